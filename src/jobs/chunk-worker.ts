import { Injectable, Logger } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { CaptionsService } from '../captions/captions.service.js';
import { CaptionGenerationRequest } from '../captions/dto/caption-generation-request.dto.js';
import { mapError } from '../common/errors/error-body.js';
import { AppConfig } from '../config/app-config.js';
import type { GuardedRows } from '../history/history.repository.js';
import { HistoryService } from '../history/history.service.js';
import { jobBatches, jobItemsEnded } from './jobs.metrics.js';
import { JobsRepository, type OpenItem } from './jobs.repository.js';
import type { FinalState } from './jobs.types.js';

/**
 * Items per unit of work (a chunk: [i·250, i·250+250) of a batch). Large enough that queueing,
 * claiming and the end check cost little per item, small enough that a worker that dies loses
 * seconds of work and a 20,000-item batch spreads over many workers.
 */
export const CHUNK_ITEMS = 250;
/** Items claimed, drafted and written per transaction inside a chunk (a cancel lets at most this many per running chunk finish). */
const SLICE_ITEMS = 25;

/** How a chunk run ended: every item ended, or the worker was asked to stop (the rest stays to resume). */
export type ChunkOutcome = 'done' | 'stopped';

/**
 * Runs one chunk of a batch: claims its items that have not ended, a slice at a time, drafts each
 * through the captions service (not recording the history there) and writes each item's result
 * with its history rows in one transaction, conditionally: a result is written once, and the
 * history rows only with it. Running a chunk again, after a crash or on two workers at once, ends
 * the same items with the same results and never stores history rows twice.
 */
@Injectable()
export class ChunkWorker {
  private readonly logger = new Logger(ChunkWorker.name);

  constructor(
    private readonly repo: JobsRepository,
    private readonly captions: CaptionsService,
    private readonly history: HistoryService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Runs chunk `chunk` of `batchId` until none of its items is left, or until `shouldStop()` says so
   * between slices. Ends the batch when nothing of it is left to run.
   */
  async run(batchId: string, chunk: number, shouldStop: () => boolean, signal: AbortSignal): Promise<ChunkOutcome> {
    const from = chunk * CHUNK_ITEMS;
    const to = from + CHUNK_ITEMS;
    for (;;) {
      if (shouldStop()) return 'stopped';
      const items = await this.repo.claim(batchId, from, to, SLICE_ITEMS);
      if (items.length === 0) break;
      const entries = await this.draftAll(batchId, items, signal);
      if (signal.aborted) return 'stopped';
      const applied = await this.history.recordGuarded(entries.map((e) => e.write));
      entries.forEach((e, i) => applied[i] && jobItemsEnded.inc({ state: e.state }));
    }
    if (await this.repo.endIfDone(batchId, Date.now())) jobBatches.inc({ event: 'ended' });
    return 'done';
  }

  /** Drafts `items`, `BATCH_JOB_CONCURRENCY` at a time, into their guarded result writes. */
  private async draftAll(batchId: string, items: OpenItem[], signal: AbortSignal): Promise<Array<{ write: GuardedRows; state: FinalState }>> {
    const out = new Array<{ write: GuardedRows; state: FinalState }>(items.length);
    let next = 0;
    const lane = async () => {
      while (next < items.length && !signal.aborted) {
        const i = next++;
        out[i] = await this.draft(batchId, items[i]!, signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.jobs.concurrency, items.length) }, lane));
    return out;
  }

  private async draft(batchId: string, item: OpenItem, signal: AbortSignal): Promise<{ write: GuardedRows; state: FinalState }> {
    const now = () => Date.now();
    try {
      const request = plainToInstance(CaptionGenerationRequest, JSON.parse(item.request) as object);
      const response = await this.captions.generate(request, { signal, recordHistory: false });
      const rows = this.captions.historyRowsOf(request, response.request_id, response.variations);
      return { write: { guard: this.repo.finishQuery(batchId, item.idx, 'succeeded', { type: 'succeeded', response }, now()), rows }, state: 'succeeded' };
    } catch (err) {
      const mapped = mapError(err);
      if (mapped.unexpected) this.logger.error({ err, batch_id: batchId, idx: item.idx }, 'Batch job item failed');
      const error = { error: mapped.code, message: mapped.message, ...(mapped.details?.length ? { details: mapped.details } : {}), timestamp: now() / 1000 };
      return { write: { guard: this.repo.finishQuery(batchId, item.idx, 'errored', { type: 'errored', error }, now()), rows: [] }, state: 'errored' };
    }
  }
}
