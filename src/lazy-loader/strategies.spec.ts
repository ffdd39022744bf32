import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoadStrategy } from './loader-config.js';
import type { LazyLoader } from './lazy-loader.js';
import type { ChunkSource } from './lazy-loader.types.js';
import { chunkSequence } from './strategies.js';
import { countingSource, sqliteSource } from './testing/sources.js';
import { loaderIn, tempDir } from './testing/temp-loader.js';

/** A source whose every load waits until the test releases it; records what is loading. */
function gatedSource(total: number, chunkSize = 10) {
  const waiting = new Map<number, () => void>();
  const aborted: number[] = [];
  const source: ChunkSource<number> = {
    key: 'gated',
    chunkSize,
    loadChunk: (index, { signal }) =>
      new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted.push(index);
          waiting.delete(index);
          reject(signal.reason as Error);
        });
        waiting.set(index, () => {
          waiting.delete(index);
          const items: number[] = [];
          for (let i = index * chunkSize; i < Math.min(total, (index + 1) * chunkSize); i++) items.push(i);
          resolve(items);
        });
      }),
  };
  return { source, waiting, aborted };
}

const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe(chunkSequence.name, () => {
  let tmp: ReturnType<typeof tempDir>;
  let sut: LazyLoader;
  beforeEach(() => {
    tmp = tempDir();
    sut = loaderIn(tmp.dir, { prefetch_chunks: 2 });
  });
  afterEach(async () => {
    await sut.close();
    tmp.cleanup();
  });

  it('IMMEDIATE loads every chunk before returning the first', async () => {
    const { source, waiting } = gatedSource(100);
    const it = sut.loadChunkedData(source, [0, 1, 2, 3], LoadStrategy.IMMEDIATE)[Symbol.asyncIterator]();
    const first = it.next();
    let firstDone = false;
    void first.then(() => (firstDone = true));
    for (const i of [0, 1, 2, 3]) {
      await vi.waitFor(() => expect(waiting.has(i)).toBe(true));
      expect(firstDone).toBe(false);
      waiting.get(i)?.();
    }
    expect((await first).value?.index).toBe(0);
  });

  it('STREAMING yields chunks in order as they load, with prefetch_chunks loading ahead', async () => {
    const { source, waiting } = gatedSource(1000);
    const it = sut.loadChunkedData(source, [0, 1, 2, 3, 4, 5], LoadStrategy.STREAMING)[Symbol.asyncIterator]();
    const first = it.next();
    // chunk 0 plus 2 ahead, no more
    await vi.waitFor(() => expect([...waiting.keys()].sort()).toEqual([0, 1, 2]));
    waiting.get(2)?.();
    waiting.get(1)?.();
    waiting.get(0)?.();
    expect((await first).value?.index).toBe(0);
    const second = await it.next();
    expect(second.value?.items[0]).toBe(10);
    // chunk 1 is with the consumer: 2 (loaded) and 3 (loading) are the two ahead
    await vi.waitFor(() => expect([...waiting.keys()]).toEqual([3]));
    await it.return?.(undefined);
  });

  it('STREAMING stops prefetch and pending loads when the consumer stops', async () => {
    const { source, waiting, aborted } = gatedSource(1000);
    const it = sut.loadChunkedData(source, [0, 1, 2, 3, 4], LoadStrategy.STREAMING)[Symbol.asyncIterator]();
    const first = it.next();
    await vi.waitFor(() => expect(waiting.size).toBe(3));
    waiting.get(0)?.();
    await first;
    await it.return?.(undefined);
    expect(aborted.sort()).toEqual([1, 2]);
  });

  it('BACKGROUND keeps loading the rest of the sequence after the consumer took the first chunk', async () => {
    const { source, calls } = countingSource(100, 'bg', 10);
    for await (const chunk of sut.loadChunkedData(source, [0, 1, 2, 3, 4, 5, 6], LoadStrategy.BACKGROUND)) {
      expect(chunk.index).toBe(0);
      break;
    }
    await vi.waitFor(() => expect(calls.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]));
    await vi.waitFor(() => expect(sut.getStats().background_tasks).toBe(0));
    expect(sut.getStats().active_chunks).toBe(7);
  });

  it('BACKGROUND serves an expired chunk at once and refreshes it behind', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    try {
      let version = 1;
      const source: ChunkSource<string> = { key: 'v', async loadChunk() { return [`v${version}`]; } };
      await sut.getChunk(source, 0);
      version = 2;
      vi.setSystemTime(1_000_000 + 3600_000 + 1);
      const [stale] = await collect(sut.loadChunkedData(source, [0], LoadStrategy.BACKGROUND));
      expect(stale).toMatchObject({ items: ['v1'], stale: true, tier: 'memory' });
      await vi.waitFor(async () => expect((await sut.getChunk(source, 0)).items).toEqual(['v2']));
      // STREAMING never serves a stale chunk: it waits for a fresh one (v2 is cached, and expires)
      await sut.flush();
      vi.setSystemTime(Date.now() + 3600_000 + 1);
      version = 3;
      const [fresh] = await collect(sut.loadChunkedData(source, [0], LoadStrategy.STREAMING));
      expect(fresh?.items).toEqual(['v3']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ON_DEMAND loads nothing until an element is asked for, then only its chunk', async () => {
    const { source, calls } = countingSource(95, 'od', 10);
    const handle = sut.onDemand(source);
    expect(calls).toEqual([]);
    expect(await handle.get(42)).toBe(42);
    expect(calls).toEqual([4]);
    expect(await handle.slice(38, 52)).toEqual(Array.from({ length: 14 }, (_, i) => 38 + i));
    expect(await handle.get(95)).toBeUndefined();
    expect(await handle.slice(90, 200)).toEqual([90, 91, 92, 93, 94]);
  });
});

describe('loadPage', () => {
  let tmp: ReturnType<typeof tempDir>;
  let sut: LazyLoader;
  beforeEach(() => {
    tmp = tempDir();
    sut = loaderIn(tmp.dir, { prefetch_chunks: 0 });
  });
  afterEach(async () => {
    await sut.close();
    tmp.cleanup();
  });

  it('maps any page size onto the chunks that hold it, with true navigation flags', async () => {
    const { db, source, close } = sqliteSource(237, 'pages', 20);
    const all = (db.prepare('SELECT id FROM captions ORDER BY created_at DESC, id DESC').pluck().all() as number[]);
    for (const pageSize of [1, 7, 20, 33, 50, 237, 500]) {
      const pages = Math.ceil(237 / pageSize);
      for (const page of [1, 2, pages, pages + 1]) {
        const { items, pageInfo } = await sut.loadPage(source, page, pageSize);
        expect(items.map((r) => r.id)).toEqual(all.slice((page - 1) * pageSize, page * pageSize));
        expect(pageInfo).toEqual({
          page, page_size: pageSize, total_items: null, total_pages: null,
          has_next: page < pages, has_previous: page > 1,
        });
      }
    }
    close();
  });

  it('uses a given total for exact totals, and reports a cache hit only when no chunk came from the source', async () => {
    const { source, calls } = countingSource(100, 'p', 10);
    const first = await sut.loadPage(source, 2, 15, { totalItems: 100 });
    expect(first.pageInfo).toMatchObject({ total_items: 100, total_pages: 7, has_next: true, has_previous: true });
    expect(first.items).toEqual(Array.from({ length: 15 }, (_, i) => 15 + i));
    expect(first.cacheHit).toBe(false);
    expect((await sut.loadPage(source, 2, 15, { totalItems: 100 })).cacheHit).toBe(true);
    // With a known total no chunk past the page is read.
    expect(calls.sort()).toEqual([1, 2]);
    expect((await sut.loadPage(source, 7, 15, { totalItems: 100 })).pageInfo.has_next).toBe(false);
    expect(sut.getStats()).toMatchObject({ total_pages_loaded: 3, active_pages: 0 });
    expect(sut.getStats().avg_page_load_time).toBeGreaterThan(0);
  });

  it('prefetches the chunks after the page', async () => {
    await sut.close();
    sut = loaderIn(tmp.dir, { prefetch_chunks: 2 });
    const { source, calls } = countingSource(1000, 'pp', 10);
    await sut.loadPage(source, 1, 10);
    await vi.waitFor(() => expect(calls.sort()).toEqual([0, 1, 2, 3]));
  });
});

describe('streamItems', () => {
  let tmp: ReturnType<typeof tempDir>;
  let sut: LazyLoader;
  beforeEach(() => {
    tmp = tempDir();
    sut = loaderIn(tmp.dir, { prefetch_chunks: 1 });
  });
  afterEach(async () => {
    await sut.close();
    tmp.cleanup();
  });

  it('is cold, streams every item in order until a short chunk, and counts the stream', async () => {
    const { source, calls } = countingSource(45, 'st', 10);
    const items$ = sut.streamItems(source);
    expect(calls).toEqual([]);
    expect(await firstValueFrom(items$.pipe(toArray()))).toEqual(Array.from({ length: 45 }, (_, i) => i));
    expect(sut.getStats()).toMatchObject({ total_streams: 1, active_streams: 0 });
    expect(await firstValueFrom(sut.streamItems(source, { fromIndex: 4 }).pipe(toArray()))).toEqual([40, 41, 42, 43, 44]);
  });

  it('runs at most prefetch_chunks ahead of what the client has taken (ready hook)', async () => {
    const { source, calls } = countingSource(10_000, 'bp', 10);
    let taken = 0;
    const gates: (() => void)[] = [];
    const ready = () => new Promise<void>((r) => gates.push(r));
    const sub = sut.streamItems(source, { ready }).subscribe(() => taken++);
    await vi.waitFor(() => expect(gates).toHaveLength(1), { interval: 1 });
    for (let i = 0; i < 25; i++) {
      gates.shift()?.();
      await vi.waitFor(() => expect(gates).toHaveLength(1), { interval: 1 });
    }
    expect(taken).toBe(25); // the client is inside chunk 2
    // The stream waits on the client, so only prefetches already started can still load: once
    // they are over, the loads counted are all there will be.
    await vi.waitFor(() => expect(sut.getStats().background_tasks).toBe(0), { interval: 1 });
    expect([...calls].sort((a, b) => a - b)).toEqual([0, 1, 2, 3]); // up to chunk 2, and 1 ahead
    sub.unsubscribe();
    expect(sut.getStats().active_streams).toBe(0);
  });

  it('stops its loads when unsubscribed or when the signal aborts', async () => {
    const { source, waiting, aborted } = gatedSource(1000);
    const sub = sut.streamItems(source).pipe(take(3)).subscribe();
    await vi.waitFor(() => expect(waiting.size).toBe(2));
    sub.unsubscribe();
    expect(aborted.sort()).toEqual([0, 1]);

    const controller = new AbortController();
    const errors: unknown[] = [];
    sut.streamItems({ ...source, key: 'other' }, { signal: controller.signal }).subscribe({ error: (e) => errors.push(e) });
    await vi.waitFor(() => expect(waiting.size).toBe(2));
    controller.abort();
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(waiting.size).toBe(0);
    expect(sut.getStats().active_streams).toBe(0);
  });
});
