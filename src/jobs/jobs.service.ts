import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { filter, type Observable } from 'rxjs';
import { hashAll, hashing, uploadBody } from '../batch/batch-upload.js';
import { Fingerprint } from '../batch/idempotency.store.js';
import { readNdjsonLines } from '../batch/ndjson-body.reader.js';
import { CaptionsService } from '../captions/captions.service.js';
import type { CaptionGenerationRequest } from '../captions/dto/caption-generation-request.dto.js';
import { API_MAJOR_VERSION } from '../common/domain/api-version.js';
import { ApiError } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import type { ChunkSource } from '../lazy-loader/lazy-loader.types.js';
import { fromRequestsArray, fromUploadLines, toNewItem, type RawInput } from './batch-intake.js';
import { BatchRunner } from './batch-runner.js';
import { jobBatches } from './jobs.metrics.js';
import { JobsRepository, type BatchRow, type StoredItem } from './jobs.repository.js';
import type { BatchObject, ItemResult, NewItem, RequestCounts, ResultLine } from './jobs.types.js';

/** Who asks: the caller's scope (whose batches it sees), the request's id (in error bodies), its Idempotency-Key. */
export interface Caller {
  owner: string;
  requestId: string;
  /** The Idempotency-Key, already scoped to the caller. */
  key?: string;
}

/** Items staged per write while an upload is read. */
const STAGE_ITEMS = 500;
/** Items per chunk of the results stream (the unit read through the lazy loader). */
const RESULT_CHUNK_ITEMS = 1000;
/** How often `GET /batches/{id}/events` reads the counts. */
const PROGRESS_INTERVAL_MS = 500;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A `GET /batches/{id}/events` event: `progress` while it runs, `ended` last. */
export interface BatchEvent {
  event: 'progress' | 'ended';
  data: { id: string; status: BatchObject['status']; request_counts: RequestCounts };
}

/**
 * Durable batch jobs: intake (a JSON body or an NDJSON upload, staged as it is read and committed
 * at once with its Idempotency-Key, or dropped), reads, cancel, the results stream and progress.
 * The work itself runs in the {@link BatchRunner}.
 */
@Injectable()
export class JobsService {
  constructor(
    private readonly repo: JobsRepository,
    private readonly runner: BatchRunner,
    private readonly captions: CaptionsService,
    private readonly loader: LazyLoaderService,
    private readonly config: AppConfig,
  ) {}

  private readonly check = (request: CaptionGenerationRequest) => this.captions.assertSupported(request);

  /**
   * `POST /batches` with a JSON body `{requests, metadata?}`.
   * @throws ApiError 422 for a body that is not a batch (no requests, too many, a duplicate
   *   custom_id, an Idempotency-Key used with another body).
   */
  async createFromJson(body: unknown, caller: Caller): Promise<{ batch: BatchObject; replayed: boolean }> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw ApiError.invalid('body', 'must be a JSON object');
    const { requests, metadata, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw ApiError.invalid(unknown[0]!, 'is not allowed');
    if (!Array.isArray(requests)) throw ApiError.invalid('requests', 'must be an array');
    if (requests.length === 0) throw ApiError.invalid('requests', 'must not be empty');
    if (requests.length > this.config.jobs.maxItems) throw ApiError.invalid('requests', `must contain no more than ${this.config.jobs.maxItems} elements (BATCH_JOB_MAX_ITEMS)`);
    const meta = checkMetadata(metadata);
    const fingerprint = Fingerprint.of(JSON.stringify(body));
    if (caller.key !== undefined) {
      const replay = await this.replay(caller, fingerprint);
      if (replay) return { batch: replay, replayed: true };
    }
    return this.create(fromRequestsArray(requests), meta, caller, () => fingerprint);
  }

  /**
   * `POST /batches` with an NDJSON upload: one request a line, read as it arrives within the
   * upload bounds (`BATCH_NDJSON_MAX_BYTES`, `BATCH_NDJSON_MAX_RATIO`, `BATCH_JOB_MAX_ITEMS` lines).
   * @throws ApiError 413 over a bound, 415 for an encoding it cannot decode, 400 for a corrupt
   *   compressed body, 422 for no lines or a duplicate custom_id. Nothing stays stored.
   */
  async createFromUpload(req: Request, res: Response, caller: Caller): Promise<{ batch: BatchObject; replayed: boolean }> {
    const body = uploadBody(req, res, { maxBytes: this.config.batch.ndjsonMaxBytes, maxRatio: this.config.batch.ndjsonMaxRatio });
    const fingerprint = new Fingerprint();
    if (caller.key !== undefined && (await this.repo.findKey(caller.key))) {
      const replay = await this.replay(caller, await hashAll(body, fingerprint));
      if (replay) return { batch: replay, replayed: true };
    }
    const lines = readNdjsonLines(hashing(body, fingerprint), { maxLines: this.config.jobs.maxItems, maxLineBytes: this.config.server.bodyLimitBytes });
    let digest: string | undefined;
    return this.create(fromUploadLines(lines), null, caller, () => (digest ??= fingerprint.digest()));
  }

  /** The batch an Idempotency-Key already names, when the body is the same; 422 when it is not. */
  private async replay(caller: Caller, fingerprint: string): Promise<BatchObject | undefined> {
    const held = await this.repo.findKey(caller.key!);
    if (!held) return undefined;
    if (held.fingerprint !== fingerprint) {
      throw new ApiError(422, 'validation_failed', 'This Idempotency-Key was used with another request body', [
        { field: 'Idempotency-Key', message: 'was used with another request body' },
      ]);
    }
    const row = await this.repo.find(held.batchId);
    if (!row) throw new ApiError(404, 'not_found', 'The batch of this Idempotency-Key no longer exists');
    return this.toObject(row);
  }

  /**
   * Stages every input as it is read, then commits the batch with its key in one transaction; on
   * any failure (a bound, a duplicate, the client leaving, another request taking the key) the
   * staged rows are dropped, so no half-created batch is ever seen.
   */
  private async create(
    inputs: AsyncIterable<RawInput>,
    metadata: Record<string, string> | null,
    caller: Caller,
    fingerprint: () => string,
  ): Promise<{ batch: BatchObject; replayed: boolean }> {
    const now = Date.now();
    const id = `batch_${randomBytes(16).toString('base64url')}`;
    await this.repo.stageBatch({
      id,
      owner: caller.owner,
      total: 0,
      created_at: now,
      expires_at: now + this.config.jobs.completionWindowMs,
      metadata: metadata === null ? null : JSON.stringify(metadata),
    });
    let total = 0;
    try {
      let pending: NewItem[] = [];
      const flush = async () => {
        const dup = await this.repo.stageItems(id, pending, Date.now());
        pending = [];
        if (dup) {
          const message = `duplicates the custom_id of item ${dup.first} ("${dup.duplicate.custom_id}")`;
          throw ApiError.invalid(`requests.${dup.duplicate.idx}.custom_id`, message);
        }
      };
      for await (const input of inputs) {
        pending.push(toNewItem(input, this.check, caller.requestId));
        total++;
        if (pending.length >= STAGE_ITEMS) await flush();
      }
      if (pending.length > 0) await flush();
      if (total === 0) throw ApiError.invalid('requests', 'must not be empty: the upload has no request lines');
      const { taken } = await this.repo.commitBatch(id, total, Date.now(), caller.key === undefined ? undefined : { key: caller.key, fingerprint: fingerprint() });
      if (taken) {
        await this.repo.dropStaged(id);
        const replay = await this.replay(caller, fingerprint());
        if (replay) return { batch: replay, replayed: true };
        throw new ApiError(409, 'conflict', 'This Idempotency-Key was taken by a batch that no longer exists; retry');
      }
    } catch (err) {
      await this.repo.dropStaged(id);
      throw err;
    }
    jobBatches.inc({ event: 'created' });
    // A batch whose every item failed validation has nothing to run.
    await this.repo.endIfDone(id, Date.now());
    await this.runner.schedule(id, total);
    return { batch: await this.get(id, caller.owner), replayed: false };
  }

  /** @throws ApiError 404 when there is no such batch for this caller. */
  async get(id: string, owner: string): Promise<BatchObject> {
    return this.toObject(await this.row(id, owner));
  }

  private async row(id: string, owner: string): Promise<BatchRow> {
    const row = await this.repo.find(id);
    if (!row || row.owner !== owner || row.status === 'validating') throw new ApiError(404, 'not_found', `No batch ${id}`);
    return row;
  }

  /** A caller's batches, newest first: `limit` of them after `cursor`, and the cursor of the next page. */
  async list(owner: string, limit: number, cursor?: string): Promise<{ data: BatchObject[]; has_more: boolean; next_cursor: string | null }> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.repo.list(owner, limit + 1, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      data: await Promise.all(page.map((r) => this.toObject(r))),
      has_more: rows.length > limit,
      next_cursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  /**
   * Items not started end `canceled`; started ones finish. @throws ApiError 409 when the batch has
   * already ended, 404 when there is none.
   */
  async cancel(id: string, owner: string): Promise<BatchObject> {
    await this.row(id, owner);
    if (!(await this.repo.cancel(id, Date.now()))) throw new ApiError(409, 'conflict', `Batch ${id} has already ended`);
    await this.repo.endIfDone(id, Date.now());
    return this.get(id, owner);
  }

  /**
   * The results in input order, read from the database a chunk at a time through the lazy loader
   * (an ended batch's chunks never change, so they are cached under the batch's id; a partial read
   * is keyed by the moment it started). Constant memory whatever the size.
   * Returns the stream, to open once the response can take it (`ready`: its backpressure).
   * @throws ApiError 409 while the batch runs and `partial` is not set.
   */
  async results(id: string, owner: string, partial: boolean): Promise<(ready: () => Promise<void>) => Observable<ResultLine>> {
    const row = await this.row(id, owner);
    const ended = row.status === 'ended';
    if (!ended && !partial) throw new ApiError(409, 'conflict', `Batch ${id} has not ended; ask with ?partial=true for the results so far`);
    const source: ChunkSource<ResultLine | null> = {
      key: `jobs:results:${id}${ended ? '' : `@${Date.now()}`}`,
      chunkSize: RESULT_CHUNK_ITEMS,
      loadChunk: async (index, { chunkSize }) => {
        const items = await this.repo.items(id, index * chunkSize, (index + 1) * chunkSize);
        // Not ended yet (partial read): null keeps the chunk full, so the stream reads on.
        return items.map(toLine);
      },
    };
    return (ready) => this.loader.streamItems(source, { ready }).pipe(filter((line): line is ResultLine => line !== null));
  }

  /** `progress` with the counts every half second while they change, then `ended`. Stops when `signal` aborts. */
  async *events(id: string, owner: string, signal: AbortSignal): AsyncGenerator<BatchEvent> {
    await this.row(id, owner);
    let last = '';
    for (;;) {
      const row = await this.row(id, owner);
      const request_counts = await this.repo.counts(id, row.total);
      const data = { id, status: row.status, request_counts };
      if (row.status === 'ended') {
        yield { event: 'ended', data };
        return;
      }
      const now = JSON.stringify(request_counts);
      if (now !== last) yield { event: 'progress', data };
      last = now;
      try {
        await sleep(PROGRESS_INTERVAL_MS, undefined, { signal });
      } catch {
        return;
      }
    }
  }

  private async toObject(row: BatchRow): Promise<BatchObject> {
    return {
      id: row.id,
      object: 'batch',
      status: row.status,
      request_counts: await this.repo.counts(row.id, row.total),
      created_at: iso(row.created_at)!,
      started_at: iso(row.started_at),
      ended_at: iso(row.ended_at),
      expires_at: iso(row.expires_at)!,
      cancel_initiated_at: iso(row.cancel_initiated_at),
      results_url: `${this.config.server.publicUrl}/api/v${API_MAJOR_VERSION}/lazy/batches/${row.id}/results`,
      metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, string>),
    };
  }
}

function toLine(item: StoredItem): ResultLine | null {
  if (item.result === null) return null;
  return { custom_id: item.custom_id, result: JSON.parse(item.result) as ItemResult };
}

/** At most 16 string values, as the common batch APIs allow: labels, not a second payload. */
function checkMetadata(metadata: unknown): Record<string, string> | null {
  if (metadata === undefined || metadata === null) return null;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw ApiError.invalid('metadata', 'must be an object');
  const entries = Object.entries(metadata);
  if (entries.length > 16) throw ApiError.invalid('metadata', 'must have no more than 16 keys');
  for (const [k, v] of entries) {
    if (k.length > 64) throw ApiError.invalid(`metadata.${k.slice(0, 64)}`, 'key must be at most 64 characters');
    if (typeof v !== 'string' || v.length > 512) throw ApiError.invalid(`metadata.${k}`, 'must be a string of at most 512 characters');
  }
  return metadata as Record<string, string>;
}

function encodeCursor(row: BatchRow): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

/** @throws ApiError 422 for a cursor this service did not make. */
function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof createdAt === 'number' && Number.isInteger(createdAt) && typeof id === 'string' && id.length <= 64) return { createdAt, id };
  } catch {
    // Falls through to the 422.
  }
  throw ApiError.invalid('cursor', 'is not a cursor this service returned');
}
