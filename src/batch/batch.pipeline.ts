import { concat, concatMap, defer, map, merge, mergeMap, Observable, range, Subject, takeWhile, type ObservableInput } from 'rxjs';
import { mapError } from '../common/errors/error-body.js';
import type { BatchDraft, BatchInput, BatchItem, BatchItemError, BatchOutput } from './batch.types.js';

export interface PipelineOptions<R, D extends BatchDraft> {
  batchId: string;
  /** Results per chunk: one `progress` event per chunk. */
  chunkSize: number;
  /** Generations in flight at most (1 when `parallel_processing` is false). */
  concurrency: number;
  /** 0–1 against `quality_score / 100`. */
  qualityThreshold: number;
  /** Regenerations of an item below the threshold before it is returned flagged. */
  maxRegenerations: number;
  /** Number of requests when known up front (JSON body), else null (NDJSON upload). */
  total: number | null;
  /** Aborts when the client leaves: no further generation starts. */
  signal: AbortSignal;
  /** Resolves when the response can take more; nothing is read or generated before it does. */
  ready: () => Promise<void>;
  /** Makes one draft; `attempt` is 0 for the first generation, n for the n-th regeneration. */
  generate: (request: R, attempt: number, signal: AbortSignal) => Promise<D>;
  /** Called for each item as it finishes (metrics). */
  onItem?: (item: BatchItem) => void;
  /** Called for an unexpected generation error before it becomes a failed item (logging). */
  onError?: (err: unknown, input: { index: number; request_id: string }) => void;
}

/**
 * The batch as an Observable of results, pulled from `inputs` only as fast as results are written:
 * a request is read only when a generation slot is free (`mergeMap` with `concurrency`, fed by a
 * demand-driven source) and the response can take more (`ready`). So memory holds at most
 * `concurrency` requests, however long the upload.
 *
 * Results leave as each finishes; every `chunkSize` results a `progress` output follows. There is
 * no barrier between chunks: a slow item never holds back the next chunk. The last output is the
 * summary.
 */
export function runBatch<R, D extends BatchDraft>(inputs: AsyncIterable<BatchInput<R>>, opts: PipelineOptions<R, D>): Observable<BatchOutput> {
  return defer(() => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    const iterator = inputs[Symbol.asyncIterator]();
    const counts = { finished: 0, succeeded: 0, failed: 0, below: 0 };

    // One token per free generation slot: `concurrency` to start, one more as each item finishes.
    const demand$ = new Subject<void>();
    const requests$ = merge(range(0, opts.concurrency), demand$).pipe(
      concatMap(() => defer(() => pull(iterator, opts))),
      takeWhile((next): next is IteratorYieldResult<BatchInput<R>> => next.done !== true),
      map((next) => next.value),
    );

    const items$ = requests$.pipe(
      mergeMap((input) => defer(() => processOne(input, opts)), opts.concurrency),
      concatMap((item): ObservableInput<BatchOutput> => {
        counts.finished += 1;
        if (item.success) counts.succeeded += 1;
        else counts.failed += 1;
        if (item.below_threshold) counts.below += 1;
        opts.onItem?.(item);
        const out: BatchOutput[] = [{ kind: 'item', item }];
        if (counts.finished % opts.chunkSize === 0) {
          out.push({ kind: 'progress', progress: progressOf(counts, opts.total, elapsed()) });
        }
        demand$.next();
        return out;
      }),
    );

    const summary$ = defer((): BatchOutput[] => {
      const out: BatchOutput[] = [];
      if (counts.finished % opts.chunkSize !== 0) {
        out.push({ kind: 'progress', progress: progressOf(counts, counts.finished, elapsed()) });
      }
      out.push({
        kind: 'summary',
        summary: {
          batch_id: opts.batchId,
          total: counts.finished,
          succeeded: counts.succeeded,
          failed: counts.failed,
          below_threshold: counts.below,
          processing_time: elapsed(),
        },
      });
      return out;
    });

    return new Observable<BatchOutput>((subscriber) => {
      const sub = concat(items$, summary$).subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        demand$.complete();
        // Closes the upload (or the array walk) when the client left early.
        iterator.return?.().catch(() => undefined);
      };
    });
  });
}

async function pull<R>(iterator: AsyncIterator<BatchInput<R>>, opts: { ready: () => Promise<void>; signal: AbortSignal }): Promise<IteratorResult<BatchInput<R>>> {
  await opts.ready();
  if (opts.signal.aborted) return { done: true, value: undefined };
  return iterator.next();
}

function progressOf(counts: { finished: number; failed: number }, total: number | null, elapsed: number) {
  return { done: counts.finished, failed: counts.failed, total, elapsed };
}

const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;

async function processOne<R, D extends BatchDraft>(
  input: BatchInput<R>,
  opts: PipelineOptions<R, D>,
): Promise<BatchItem> {
  const started = process.hrtime.bigint();
  if ('error' in input) return failed(input, input.error, seconds(started));
  let best: D | undefined;
  let attempt = 0;
  try {
    for (; attempt <= opts.maxRegenerations; attempt++) {
      // A client that left gets nothing more generated for it.
      if (opts.signal.aborted) throw opts.signal.reason;
      if (attempt > 0) await opts.ready();
      const draft = await opts.generate(input.request, attempt, opts.signal);
      if (!best || draft.quality_score > best.quality_score) best = draft;
      if (best.quality_score / 100 >= opts.qualityThreshold) break;
    }
  } catch (err) {
    if (opts.signal.aborted) throw err;
    const mapped = mapError(err);
    if (mapped.unexpected) opts.onError?.(err, input);
    const error: BatchItemError = { code: mapped.code === 'internal_error' ? 'generation_failed' : mapped.code, message: mapped.unexpected ? 'Caption generation failed' : mapped.message };
    return failed(input, error, seconds(started));
  }
  const draft = best!;
  const below = draft.quality_score / 100 < opts.qualityThreshold;
  return {
    request_id: input.request_id,
    index: input.index,
    success: true,
    caption: draft.caption,
    hashtags: draft.hashtags,
    quality_score: draft.quality_score,
    processing_time: seconds(started),
    regenerations: Math.min(attempt, opts.maxRegenerations),
    below_threshold: below,
  };
}

function failed(input: { index: number; request_id: string | null }, error: BatchItemError, processingTime: number): BatchItem {
  return {
    request_id: input.request_id,
    index: input.index,
    success: false,
    caption: null,
    hashtags: [],
    quality_score: null,
    processing_time: processingTime,
    error,
  };
}
