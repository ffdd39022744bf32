import { lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../common/errors/api-error.js';
import type { BatchDraft, BatchInput, BatchItem, BatchOutput } from './batch.types.js';
import { runBatch, type PipelineOptions } from './batch.pipeline.js';

interface Req {
  n: number;
}

/** A real delay: the engine stand-in takes time, so generations overlap; no assertion reads the clock. */
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** An async generator of `count` requests that counts how many were pulled. */
function inputs(count: number, opts: { invalidEvery?: number } = {}) {
  const state = { pulled: 0, returned: false };
  async function* gen(): AsyncGenerator<BatchInput<Req>> {
    try {
      for (let i = 0; i < count; i++) {
        state.pulled += 1;
        if (opts.invalidEvery && i % opts.invalidEvery === 0) {
          yield { index: i, request_id: `r${i}`, error: { code: 'validation_failed', message: 'bad' } };
        } else {
          yield { index: i, request_id: `r${i}`, request: { n: i } };
        }
      }
    } finally {
      state.returned = true;
    }
  }
  return { source: gen(), state };
}

/** An engine stand-in that tracks generations in flight; quality comes from `quality`. */
function engine(quality: (req: Req, attempt: number) => number = () => 90, delayMs = 1) {
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const generate = async (req: Req, attempt: number): Promise<BatchDraft> => {
    stats.calls += 1;
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    await tick(delayMs);
    stats.inFlight -= 1;
    if (req.n === -1) throw new Error('engine exploded at /secret');
    return { caption: `caption ${req.n}/${attempt}`, hashtags: ['#a'], quality_score: quality(req, attempt) };
  };
  return { generate, stats };
}

function options(overrides: Partial<PipelineOptions<Req, BatchDraft>> = {}): PipelineOptions<Req, BatchDraft> {
  return {
    batchId: 'b1',
    chunkSize: 10,
    concurrency: 4,
    qualityThreshold: 0.7,
    maxRegenerations: 2,
    total: null,
    signal: new AbortController().signal,
    ready: async () => undefined,
    generate: engine().generate,
    ...overrides,
  };
}

const itemsOf = (outs: BatchOutput[]): BatchItem[] => outs.flatMap((o) => (o.kind === 'item' ? [o.item] : []));

describe(runBatch.name, () => {
  it('returns one item per request, failures itemised, then the summary', async () => {
    const { source } = inputs(50, { invalidEvery: 10 });
    const outs = await lastValueFrom(runBatch(source, options({ total: 50 })).pipe(toArray()));
    const items = itemsOf(outs);
    expect(items).toHaveLength(50);
    expect(items.filter((i) => !i.success).map((i) => i.index).sort((a, b) => a - b)).toEqual([0, 10, 20, 30, 40]);
    expect(items.find((i) => i.index === 10)).toMatchObject({ success: false, caption: null, error: { code: 'validation_failed' } });
    expect(items.find((i) => i.index === 11)).toMatchObject({ success: true, caption: 'caption 11/0', quality_score: 90, below_threshold: false, regenerations: 0 });
    expect(outs.at(-1)).toMatchObject({ kind: 'summary', summary: { batch_id: 'b1', total: 50, succeeded: 45, failed: 5, below_threshold: 0 } });
  });

  it('emits progress after every chunk', async () => {
    const { source } = inputs(25);
    const outs = await lastValueFrom(runBatch(source, options({ total: 25 })).pipe(toArray()));
    const progress = outs.flatMap((o) => (o.kind === 'progress' ? [o.progress] : []));
    expect(progress.map((p) => [p.done, p.total])).toEqual([[10, 25], [20, 25], [25, 25]]);
    expect(outs.findIndex((o) => o.kind === 'progress')).toBe(10);
  });

  it('never has more than `concurrency` generations in flight', async () => {
    for (const concurrency of [1, 3, 8]) {
      const gen = engine(() => 90, 2);
      const { source } = inputs(40);
      await lastValueFrom(runBatch(source, options({ concurrency, generate: gen.generate })).pipe(toArray()));
      expect(gen.stats.maxInFlight).toBe(concurrency);
    }
  });

  it('regenerates below the threshold, keeps the best draft, and flags it when it stays below', async () => {
    const improving = engine((req, attempt) => (req.n === 0 ? 50 + attempt * 15 : 40 + attempt));
    const { source } = inputs(2);
    const outs = await lastValueFrom(runBatch(source, options({ generate: improving.generate })).pipe(toArray()));
    const [a, b] = [0, 1].map((n) => itemsOf(outs).find((i) => i.index === n)!);
    expect(a).toMatchObject({ caption: 'caption 0/2', quality_score: 80, regenerations: 2, below_threshold: false });
    expect(b).toMatchObject({ caption: 'caption 1/2', quality_score: 42, regenerations: 2, below_threshold: true });
    expect(improving.stats.calls).toBe(6);
    expect(outs.at(-1)).toMatchObject({ summary: { succeeded: 2, below_threshold: 1 } });
  });

  it('turns a failing generation into a failed item without leaking, and goes on', async () => {
    const logged: unknown[] = [];
    async function* source(): AsyncGenerator<BatchInput<Req>> {
      yield { index: 0, request_id: 'x', request: { n: -1 } };
      yield { index: 1, request_id: 'y', request: { n: 1 } };
    }
    const outs = await lastValueFrom(runBatch(source(), options({ onError: (e) => logged.push(e) })).pipe(toArray()));
    const items = itemsOf(outs);
    expect(items.find((i) => i.index === 0)).toMatchObject({ success: false, error: { code: 'generation_failed', message: 'Caption generation failed' } });
    expect(items.find((i) => i.index === 1)?.success).toBe(true);
    expect(logged).toHaveLength(1);
  });

  it('keeps an exposed error code for a failed item', async () => {
    const generate = async () => {
      throw new ApiError(503, 'load_failed', 'engine unavailable');
    };
    const { source } = inputs(1);
    const outs = await lastValueFrom(runBatch(source, options({ generate })).pipe(toArray()));
    expect(itemsOf(outs)[0]?.error).toEqual({ code: 'load_failed', message: 'engine unavailable' });
  });

  it('pulls requests only as results are taken, and returns the source when unsubscribed', async () => {
    const { source, state } = inputs(1_000_000);
    const outs = await lastValueFrom(runBatch(source, options({ concurrency: 4 })).pipe(take(5), toArray()));
    expect(outs).toHaveLength(5);
    // Once the generator has returned it can yield nothing more: the count read after is final.
    await vi.waitFor(() => expect(state.returned).toBe(true));
    expect(state.pulled).toBeLessThanOrEqual(5 + 4 + 1);
  });

  it('reads nothing more while the response cannot take more', async () => {
    let open = true;
    const waiting: (() => void)[] = [];
    const ready = () => (open ? Promise.resolve() : new Promise<void>((r) => waiting.push(r)));
    const { source, state } = inputs(100);
    const seen: BatchOutput[] = [];
    let completed = false;
    const done = new Promise<void>((resolve) =>
      runBatch(source, options({ ready, concurrency: 2 })).subscribe({
        next: (o) => {
          seen.push(o);
          if (seen.length === 3) open = false;
        },
        complete: () => {
          completed = true;
          resolve();
        },
      }),
    );
    // Settled: a read waits on `ready`, and every request read so far has its result out. Nothing
    // else can move now, so the count is final without waiting any longer.
    await vi.waitFor(() => {
      expect(waiting.length).toBeGreaterThan(0);
      expect(itemsOf(seen)).toHaveLength(state.pulled);
    });
    expect(completed).toBe(false);
    expect(state.pulled).toBeLessThan(8);
    open = true;
    for (const release of waiting.splice(0)) release();
    await done;
    expect(itemsOf(seen)).toHaveLength(100);
  });

  it('starts no further generation once the signal aborts', async () => {
    const controller = new AbortController();
    const gen = engine(() => 90, 2);
    const { source } = inputs(1000);
    const seen: BatchOutput[] = [];
    let ended = false;
    const sub = runBatch(source, options({ signal: controller.signal, generate: gen.generate, concurrency: 2 })).subscribe({
      next: (o) => {
        seen.push(o);
        if (seen.length === 6) controller.abort();
      },
      error: () => (ended = true),
      complete: () => (ended = true),
    });
    // Drained: the run is over and no generation is in flight, so nothing can start any more.
    await vi.waitFor(() => {
      expect(ended).toBe(true);
      expect(gen.stats.inFlight).toBe(0);
    });
    expect(gen.stats.calls).toBeLessThanOrEqual(6 + 2);
    sub.unsubscribe();
  });
});
