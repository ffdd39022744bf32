import { Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { concat, defer, finalize, ignoreElements, map, tap, type Observable } from 'rxjs';
import type { CaptionGenerationRequest } from '../captions/dto/caption-generation-request.dto.js';
import { ApiError } from '../common/errors/api-error.js';
import type { RequestBudget } from '../common/security/rate-limit/rate-limiter.js';
import { AppConfig } from '../config/app-config.js';
import { BatchDrafter } from './batch.drafter.js';
import { batchItems } from './batch.metrics.js';
import type { BatchDraft, BatchInput, BatchItem, BatchOutput } from './batch.types.js';
import { runBatch } from './batch.pipeline.js';
import { assertUniqueRequestIds, fromArray, fromNdjson, validateBody } from './batch-requests.js';
import { hashAll, hashing, peeked, uploadBody } from './batch-upload.js';
import { BatchCaptionRequest, type BatchOptions, type BatchQuery } from './dto/batch-caption-request.dto.js';
import { Fingerprint, IdempotencyStore, replayResults, ResultRecorder } from './idempotency.store.js';
import { readNdjsonLines } from './ndjson-body.reader.js';

/** A batch ready to stream: a new run, or the stored results of a finished one (idempotent replay). */
export type BatchJob =
  | {
      kind: 'run';
      options: BatchOptions;
      /** Number of requests when known (JSON body); null for an NDJSON upload. */
      total: number | null;
      inputs: AsyncIterable<BatchInput<CaptionGenerationRequest>>;
      idempotency?: { key: string; fingerprint: () => string };
      /** Charged item by item (an NDJSON upload: its size is not known up front). */
      budget?: RequestBudget;
    }
  | { kind: 'replay'; results: string };

const BATCH_OPTION_FIELDS = ['batch_id', 'parallel_processing', 'max_concurrent', 'quality_threshold'] as const;

/**
 * Batch processing: turns a JSON batch or an NDJSON upload into a {@link BatchJob} (every check that
 * can answer 4xx happens here, before a byte is sent), then runs it through the pipeline with the
 * captions engine, the history and the idempotency store.
 */
@Injectable()
export class BatchService {
  private readonly logger = new Logger(BatchService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly drafter: BatchDrafter,
    private readonly idempotency: IdempotencyStore,
  ) {}

  /** Each item meets the rules `POST /captions` applies beyond the DTO before it takes a slot; one that does not is a failed item. */
  private readonly check = (request: CaptionGenerationRequest) => this.drafter.assertSupported(request);

  /**
   * A JSON `BatchCaptionRequest`.
   * `key` is the Idempotency-Key in its caller's scope.
   * @throws ApiError 422 for a bad body or query, too many requests, or two equal request ids;
   *   409/422/503 for an idempotency key in use, used with another body, or no room to keep it.
   */
  async prepareJson(body: unknown, query: BatchQuery, key?: string): Promise<BatchJob> {
    for (const field of BATCH_OPTION_FIELDS) {
      if (query[field] !== undefined) throw ApiError.invalid(field, 'goes in the JSON body, not the query, for a JSON batch');
    }
    const batch = validateBody(BatchCaptionRequest, body, ['requests']);
    const max = this.config.batch.maxRequests;
    if (batch.requests.length > max) throw ApiError.invalid('requests', `must contain no more than ${max} elements`);
    assertUniqueRequestIds(batch.requests);
    const options: BatchOptions = {
      batchId: batch.batch_id ?? randomUUID(),
      chunkSize: query.chunk_size,
      concurrency: batch.parallel_processing ? batch.max_concurrent : 1,
      qualityThreshold: batch.quality_threshold,
    };
    const job: BatchJob = { kind: 'run', options, total: batch.requests.length, inputs: fromArray(batch.requests, this.check) };
    if (key === undefined) return job;
    const fingerprint = Fingerprint.of(JSON.stringify(body));
    const claim = await this.idempotency.claim(key, fingerprint);
    if (claim.kind === 'finished') return { kind: 'replay', results: IdempotencyStore.resultsOf(claim, fingerprint) };
    return { ...job, idempotency: { key, fingerprint: () => fingerprint } };
  }

  /**
   * An NDJSON upload: one caption request a line, the batch options in the query. Nothing is
   * read but the first line before the response starts. The upload is read within the
   * configured bounds on decoded bytes, compression ratio and lines, and no longer once `res`
   * has closed. Each item's first generation is charged to `budget` (its `variation_count` in
   * rate-limit units): an item the client's budget cannot cover fails with `rate_limited`, the
   * others go on.
   * @throws ApiError 422 for an empty upload; 409/422 for an idempotency key in use or used with
   *   another body; 413 for an upload over a bound before its first line; 415 for a
   *   `Content-Encoding` it cannot decode.
   */
  async prepareNdjson(req: Request, res: Response, query: BatchQuery, key?: string, budget?: RequestBudget): Promise<BatchJob> {
    const options: BatchOptions = {
      batchId: query.batch_id ?? randomUUID(),
      chunkSize: query.chunk_size,
      concurrency: query.parallel_processing === false ? 1 : (query.max_concurrent ?? 10),
      qualityThreshold: query.quality_threshold ?? 0.7,
    };
    const body = uploadBody(req, res, { maxBytes: this.config.batch.ndjsonMaxBytes, maxRatio: this.config.batch.ndjsonMaxRatio });
    const fingerprint = new Fingerprint();
    if (key !== undefined) {
      const claim = await this.idempotency.claim(key);
      if (claim.kind === 'finished') return { kind: 'replay', results: IdempotencyStore.resultsOf(claim, await hashAll(body, fingerprint)) };
    }
    // Hashed only when a key needs it.
    const lines = readNdjsonLines(key === undefined ? body : hashing(body, fingerprint), {
      maxLines: this.config.batch.maxNdjsonLines,
      maxLineBytes: this.config.server.bodyLimitBytes,
    });
    const inputs = await peeked(fromNdjson(lines, this.check)).catch(async (err: unknown) => {
      if (key !== undefined) await this.idempotency.release(key);
      throw err;
    });
    if (inputs === undefined) {
      if (key !== undefined) await this.idempotency.release(key);
      throw ApiError.invalid('requests', 'must not be empty: the upload has no request lines');
    }
    let digest: string | undefined;
    // Complete only once the whole upload was read, so the hash is of all of it.
    const fp = () => (digest ??= fingerprint.digest());
    return { kind: 'run', options, total: null, inputs, budget, idempotency: key === undefined ? undefined : { key, fingerprint: fp } };
  }

  /**
   * Runs a job: results as they finish, `progress` every chunk, the summary last. Generation
   * stops when `signal` aborts and waits on `ready` (backpressure). A finished run with an
   * idempotency key stores its results; one that did not finish gives its key back.
   */
  run(job: BatchJob, io: { signal: AbortSignal; ready: () => Promise<void> }): Observable<BatchOutput> {
    if (job.kind === 'replay') {
      return defer(() => replayResults(job.results)).pipe(map((stored) => toOutput(stored as BatchItem)));
    }
    const { options } = job;
    const recorder = job.idempotency ? new ResultRecorder(this.idempotency.maxRecordBytes) : undefined;
    const outputs$ = runBatch<CaptionGenerationRequest, BatchDraft>(job.inputs, {
      batchId: options.batchId,
      chunkSize: options.chunkSize,
      concurrency: options.concurrency,
      qualityThreshold: options.qualityThreshold,
      maxRegenerations: this.config.batch.maxRegenerations,
      total: job.total,
      signal: io.signal,
      ready: io.ready,
      generate: async (request, attempt, signal) => {
        // Charged once an item: its regenerations are the service's choice, not the client's.
        if (attempt === 0) await job.budget?.charge(request.variation_count);
        return this.drafter.draft(request, attempt, signal);
      },
      onItem: (item) => batchItems.inc({ outcome: !item.success ? 'failed' : item.below_threshold ? 'below_threshold' : 'succeeded' }),
      onError: (err, input) => this.logger.error({ err, request_id: input.request_id, index: input.index }, 'Batch item generation failed'),
    });
    const idem = job.idempotency;
    if (!idem || !recorder) return outputs$;
    let stored = false;
    const store$ = defer(async () => {
      // Stored before the stream ends, so a repeat sent right after the last byte is a replay.
      await this.idempotency.complete(idem.key, idem.fingerprint(), await recorder.finish());
      stored = true;
    }).pipe(ignoreElements());
    const recorded$ = outputs$.pipe(
      tap((out) => {
        if (out.kind === 'item') recorder.add(out.item);
        else if (out.kind === 'summary') recorder.add(out.summary);
      }),
    );
    return concat(recorded$, store$).pipe(
      finalize(() => {
        if (stored) return;
        recorder.discard();
        this.idempotency.release(idem.key).catch((err: unknown) => this.logger.error({ err }, 'Could not release an idempotency key'));
      }),
    );
  }
}

/** A stored result back into an output: the summary is the one with a `batch_id`. */
function toOutput(stored: BatchItem | Record<string, unknown>): BatchOutput {
  if ('batch_id' in stored) return { kind: 'summary', summary: stored as never };
  return { kind: 'item', item: stored as BatchItem };
}
