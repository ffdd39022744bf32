import { Observable } from 'rxjs';
import { LoadStrategy } from './loader-config.js';
import { abortReason } from './load-errors.js';
import type { ChunkReader } from './loader-ports.js';
import type { ChunkReadOptions, ChunkSource, DataChunk, PageInfo } from './lazy-loader.types.js';

export interface StreamItemsOptions extends ChunkReadOptions {
  /** First chunk to stream (0). */
  fromIndex?: number;
  /**
   * Backpressure: awaited before each item is emitted (the HTTP helper resolves it once the
   * client has taken what was written), so loading runs at most `prefetch_chunks` chunks ahead.
   */
  ready?: () => Promise<void>;
}

/** A controller that aborts with `parent`; `dispose` unlinks it. */
function linked(parent?: AbortSignal): { controller: AbortController; dispose: () => void } {
  const controller = new AbortController();
  if (!parent) return { controller, dispose: () => undefined };
  const onAbort = () => controller.abort(abortReason(parent));
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return { controller, dispose: () => parent.removeEventListener('abort', onAbort) };
}

function iteratorOf(indexes: Iterable<number> | AsyncIterable<number>): AsyncIterator<number> | Iterator<number> {
  return Symbol.asyncIterator in indexes ? indexes[Symbol.asyncIterator]() : indexes[Symbol.iterator]();
}

function* countFrom(start: number): Generator<number> {
  for (let i = start; ; i++) yield i;
}

/** Runs `fn` over `items` with at most `limit` at a time, results in order. */
async function mapLimited<A, B>(items: A[], limit: number, fn: (a: A) => Promise<B>): Promise<B[]> {
  const out = new Array<B>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as A);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * The sequence strategies. IMMEDIATE loads every chunk, then yields them. STREAMING yields in
 * order as chunks load, `prefetch_chunks` ahead. BACKGROUND loads on at its own pace (up to
 * `max_chunks_in_memory` ahead, cached chunks served even if stale) and keeps filling the cache
 * after the consumer stops, until `signal` aborts. With `untilShort`, a chunk with fewer than
 * `chunkSize` items ends the sequence (the end of the data).
 */
export async function* chunkSequence<T>(
  loader: ChunkReader,
  source: ChunkSource<T>,
  indexes: Iterable<number> | AsyncIterable<number>,
  strategy: LoadStrategy,
  opts: ChunkReadOptions = {},
  untilShort = false,
): AsyncGenerator<DataChunk<T>> {
  const chunkSize = loader.chunkSizeOf(source);
  const prefetchChunks = loader.prefetchChunks;
  if (strategy === LoadStrategy.IMMEDIATE) {
    const all: number[] = [];
    for await (const i of indexes) all.push(i);
    const chunks = await mapLimited(all, Math.max(1, prefetchChunks), (i) => loader.getChunk(source, i, opts));
    for (const chunk of chunks) {
      yield chunk;
      if (untilShort && chunk.items.length < chunkSize) return;
    }
    return;
  }
  if (strategy === LoadStrategy.BACKGROUND) {
    yield* background(loader, source, indexes, opts, untilShort, chunkSize);
    return;
  }
  if (strategy !== LoadStrategy.STREAMING) throw new RangeError(`loadChunkedData does not take strategy ${strategy}`);

  const { controller, dispose } = linked(opts.signal);
  const it = iteratorOf(indexes);
  const window: { index: number; loading?: Promise<DataChunk<T>> }[] = [];
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && window.length < prefetchChunks + 1) {
        const r = await it.next();
        if (r.done) {
          exhausted = true;
          break;
        }
        const index = r.value;
        if (loader.keepsChunks) {
          // Prefetch is not a lookup: the read below counts a hit only if the chunk is ready by then.
          void loader.prefetch(source, index, controller.signal);
          window.push({ index });
        } else {
          // Without a cache there is nowhere to prefetch into: hold the load itself.
          const loading = loader.getChunk(source, index, { signal: controller.signal });
          loading.catch(() => undefined);
          window.push({ index, loading });
        }
      }
      const head = window.shift();
      if (!head) return;
      const chunk = await (head.loading ?? loader.getChunk(source, head.index, { signal: controller.signal }));
      yield chunk;
      if (untilShort && chunk.items.length < chunkSize) return;
    }
  } finally {
    // The consumer stopped or left: prefetch and pending loads for it stop too.
    controller.abort(new DOMException('stream ended', 'AbortError'));
    dispose();
    await it.return?.();
  }
}

async function* background<T>(
  loader: ChunkReader,
  source: ChunkSource<T>,
  indexes: Iterable<number> | AsyncIterable<number>,
  opts: ChunkReadOptions,
  untilShort: boolean,
  chunkSize: number,
): AsyncGenerator<DataChunk<T>> {
  const ahead = loader.maxChunksAhead;
  const results: Promise<DataChunk<T>>[] = [];
  let consumed = 0;
  let consumerGone = false;
  let wake: (() => void) | undefined;
  let pumpDone = false;
  const it = iteratorOf(indexes);
  const pump = async () => {
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        if (opts.signal?.aborted) return;
        // Bounded: at most `ahead` unconsumed chunks held for a slow consumer.
        while (!consumerGone && results.length - consumed >= ahead) await new Promise<void>((res) => (wake = res));
        const p = loader.getChunk(source, r.value, { signal: opts.signal, allowStale: true });
        p.catch(() => undefined);
        if (consumerGone) {
          // Nobody reads these any more: warm the cache up to the end of the data, not past it.
          const chunk = await p.catch(() => undefined);
          if (!chunk || chunk.items.length < chunkSize) return;
        } else {
          results.push(p);
          wake?.();
          const chunk = await p.catch(() => undefined);
          if (untilShort && chunk && chunk.items.length < chunkSize) return;
        }
      }
    } finally {
      pumpDone = true;
      wake?.();
    }
  };
  void loader.trackBackground(pump());
  try {
    for (;;) {
      while (consumed >= results.length && !pumpDone) await new Promise<void>((res) => (wake = res));
      if (consumed >= results.length) return;
      const chunk = await (results[consumed] as Promise<DataChunk<T>>);
      // Drop the reference so a consumed chunk can be collected.
      results[consumed] = undefined as unknown as Promise<DataChunk<T>>;
      consumed++;
      wake?.();
      yield chunk;
      if (untilShort && chunk.items.length < chunkSize) return;
    }
  } finally {
    consumerGone = true;
    results.length = 0;
    wake?.();
  }
}

/** STREAMING over items as a cold Observable: nothing loads before subscribe; unsubscribe stops everything. */
export function streamItems<T>(loader: ChunkReader, source: ChunkSource<T>, opts: StreamItemsOptions = {}): Observable<T> {
  const from = opts.fromIndex ?? 0;
  if (!Number.isInteger(from) || from < 0) throw new RangeError(`fromIndex must be an integer ≥ 0, got ${from}`);
  return new Observable<T>((subscriber) => {
    const { controller, dispose } = linked(opts.signal);
    const untrack = loader.trackStream();
    const run = async () => {
      const chunks = chunkSequence(loader, source, countFrom(from), LoadStrategy.STREAMING, { signal: controller.signal }, true);
      for await (const chunk of chunks) {
        for (const item of chunk.items) {
          if (opts.ready) await opts.ready();
          if (subscriber.closed || controller.signal.aborted) return;
          subscriber.next(item);
        }
      }
      if (controller.signal.aborted) throw abortReason(controller.signal);
    };
    // The stream counts as ended before its subscriber hears so.
    run().then(
      () => {
        untrack();
        dispose();
        subscriber.complete();
      },
      (err: unknown) => {
        untrack();
        dispose();
        if (!subscriber.closed) subscriber.error(err);
      },
    );
    return () => {
      untrack();
      controller.abort(new DOMException('unsubscribed', 'AbortError'));
    };
  });
}

/**
 * PAGINATED: page `page` (from 1) of `pageSize` items, read from the chunks that hold it. With
 * `totalItems` the totals are exact; without, `has_next` is still true only if an item follows
 * (the next chunk is read when the page ends on a chunk boundary). `cacheHit` is true when no
 * chunk came from the source. The `prefetch_chunks` chunks after the page load behind it.
 */
export async function loadPage<T>(
  loader: ChunkReader,
  source: ChunkSource<T>,
  page: number,
  pageSize: number,
  opts: ChunkReadOptions & { totalItems?: number | null } = {},
): Promise<{ items: T[]; pageInfo: PageInfo; cacheHit: boolean }> {
  if (!Number.isInteger(page) || page < 1) throw new RangeError(`page must be an integer ≥ 1, got ${page}`);
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be an integer ≥ 1, got ${pageSize}`);
  const total = opts.totalItems ?? null;
  return loader.trackPage(async () => {
    const chunkSize = loader.chunkSizeOf(source);
    const offset = (page - 1) * pageSize;
    const first = Math.floor(offset / chunkSize);
    // Without a total, one item past the page tells whether a next page exists; with one, the
    // page's own last item is enough (no extra chunk read when a page ends on a chunk edge).
    const last = Math.floor((offset + pageSize - (total === null ? 0 : 1)) / chunkSize);
    const indexes: number[] = [];
    for (let i = first; i <= last; i++) indexes.push(i);
    const chunks: DataChunk<T>[] = [];
    // Read in order, all at once; stop at the first short chunk (the end of the data).
    const loads = indexes.map((i) => loader.getChunk(source, i, opts));
    // Each rejection is observed now (no unhandled rejection for chunks past a short one); the loop awaits them in order.
    for (const p of loads) void p.catch(() => undefined);
    for (const p of loads) {
      const chunk = await p;
      chunks.push(chunk);
      if (chunk.items.length < chunkSize) break;
    }
    const all = chunks.flatMap((ch) => ch.items);
    const from = offset - first * chunkSize;
    const items = all.slice(from, from + pageSize);
    const hasMore = all.length > from + pageSize;
    const pageInfo: PageInfo = {
      page,
      page_size: pageSize,
      total_items: total,
      total_pages: total === null ? null : Math.ceil(total / pageSize),
      has_next: total === null ? hasMore : offset + pageSize < total,
      has_previous: page > 1,
    };
    const lastRead = chunks[chunks.length - 1];
    if (lastRead && lastRead.items.length === chunkSize) {
      for (let i = 1; i <= loader.prefetchChunks; i++) void loader.prefetch(source, lastRead.index + i, opts.signal);
    }
    return { items, pageInfo, cacheHit: chunks.every((ch) => ch.tier !== 'source') };
  });
}

/** ON_DEMAND: a handle that loads nothing until an element (or a slice) is asked for. */
export function onDemand<T>(loader: ChunkReader, source: ChunkSource<T>) {
  const chunkSize = loader.chunkSizeOf(source);
  return {
    /** Item `i` (from 0), or `undefined` past the end. */
    async get(i: number, signal?: AbortSignal): Promise<T | undefined> {
      if (!Number.isInteger(i) || i < 0) throw new RangeError(`index must be an integer ≥ 0, got ${i}`);
      const chunk = await loader.getChunk(source, Math.floor(i / chunkSize), { signal });
      return chunk.items[i % chunkSize];
    },
    /** Items [start, end), shorter at the end of the data. */
    async slice(start: number, end: number, signal?: AbortSignal): Promise<T[]> {
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
        throw new RangeError(`slice needs integers 0 ≤ start ≤ end, got ${start}, ${end}`);
      }
      if (end === start) return [];
      const out: T[] = [];
      for (let ci = Math.floor(start / chunkSize); ci <= Math.floor((end - 1) / chunkSize); ci++) {
        const chunk = await loader.getChunk(source, ci, { signal });
        const base = ci * chunkSize;
        out.push(...chunk.items.slice(Math.max(0, start - base), end - base));
        if (chunk.items.length < chunkSize) break;
      }
      return out;
    },
  };
}
