import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LazyLoader } from './lazy-loader.js';
import { LoadFailedError, LoadTimeoutError } from './load-errors.js';
import type { ChunkSource } from './lazy-loader.types.js';
import { countingSource, sqliteSource } from './testing/sources.js';
import { loaderIn, tempDir } from './testing/temp-loader.js';

/** The error `p` rejects with (fails the test if it resolves). */
const rejection = <E>(p: Promise<unknown>): Promise<E> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as E,
  );

describe(LazyLoader.name, () => {
  let tmp: ReturnType<typeof tempDir>;
  let sut: LazyLoader;
  beforeEach(() => {
    tmp = tempDir();
    sut = loaderIn(tmp.dir);
  });
  afterEach(async () => {
    vi.useRealTimers();
    await sut.close();
    tmp.cleanup();
  });

  it('reads memory → disk → source and fills the nearer tiers on the way back', async () => {
    const { source, calls, close } = sqliteSource(250, 'captions', 100);
    const first = await sut.getChunk(source, 1);
    expect(first.tier).toBe('source');
    expect(first.items.map((r) => r.id)).toEqual(Array.from({ length: 100 }, (_, i) => 150 - i));
    expect((await sut.getChunk(source, 1)).tier).toBe('memory');
    // A new loader on the same directory: an empty memory tier over the same disk tier.
    await sut.close();
    sut = loaderIn(tmp.dir);
    const fromDisk = await sut.getChunk(source, 1);
    expect(fromDisk.tier).toBe('disk');
    expect(fromDisk.items).toEqual(first.items);
    expect((await sut.getChunk(source, 1)).tier).toBe('memory');
    expect(calls).toEqual([1]);
    close();
  });

  it('keeps chunks across a restart (the disk tier is persistent)', async () => {
    const { source, close } = sqliteSource(50, 'captions', 20);
    const before = await sut.getChunk(source, 2);
    await sut.close();
    sut = loaderIn(tmp.dir);
    const after = await sut.getChunk(source, 2);
    expect(after.tier).toBe('disk');
    expect(after.items).toEqual(before.items);
    expect(after.items).toHaveLength(10);
    close();
  });

  it('makes one source call for 100 concurrent reads of one chunk', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const source: ChunkSource<number> = {
      key: 'k',
      chunkSize: 3,
      async loadChunk(index) {
        calls++;
        await gate;
        return [index, index, index];
      },
    };
    const reads = Array.from({ length: 100 }, () => sut.getChunk(source, 7));
    release();
    const chunks = await Promise.all(reads);
    expect(calls).toBe(1);
    expect(chunks.every((c) => c.items.join() === '7,7,7')).toBe(true);
  });

  it('lets one caller leave without cancelling the others; the load stops when the last one leaves', async () => {
    const signals: AbortSignal[] = [];
    const source: ChunkSource<number> = {
      key: 'k',
      loadChunk: (_i, { signal }) => {
        signals.push(signal);
        return new Promise(() => undefined); // never settles by itself
      },
    };
    const a = new AbortController();
    const b = new AbortController();
    const ra = sut.getChunk(source, 0, { signal: a.signal });
    const rb = sut.getChunk(source, 0, { signal: b.signal });
    await vi.waitFor(() => expect(signals).toHaveLength(1));
    a.abort();
    await expect(ra).rejects.toThrow(/abort/i);
    expect(signals[0]?.aborted).toBe(false);
    b.abort();
    await expect(rb).rejects.toThrow(/abort/i);
    expect(signals[0]?.aborted).toBe(true);
  });

  it('times out every attempt, retries with backoff, then fails with a 504 LoadTimeoutError', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    await sut.close();
    sut = loaderIn(tmp.dir, { load_timeout: 2, retry_attempts: 2 });
    let calls = 0;
    const source: ChunkSource<number> = {
      key: 'slow',
      loadChunk: () => {
        calls++;
        return new Promise(() => undefined);
      },
    };
    const read = sut.getChunk(source, 0);
    const outcome = expect(read).rejects.toBeInstanceOf(LoadTimeoutError);
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    // backoff before retry 1: 100 ms × (½ + ½·0.5) = 75 ms
    await vi.advanceTimersByTimeAsync(74);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(2000 + 150 + 2000);
    await outcome;
    expect(calls).toBe(3);
    const err = await rejection<LoadTimeoutError>(read);
    expect([err.status, err.code, err.expose]).toEqual([504, 'load_timeout', true]);
    const s = sut.getStats().tiers.source;
    expect(s).toEqual({ loads: 0, failures: 1, timeouts: 1, retries: 2 });
  });

  it('retries a failing source and returns its data when an attempt succeeds', async () => {
    await sut.close();
    sut = loaderIn(tmp.dir, { retry_attempts: 3 });
    let calls = 0;
    const source: ChunkSource<string> = {
      key: 'flaky',
      async loadChunk() {
        if (++calls < 3) throw new Error('connection reset');
        return ['ok'];
      },
    };
    await expect(sut.getChunk(source, 0)).resolves.toMatchObject({ items: ['ok'], tier: 'source' });
    expect(sut.getStats().tiers.source).toMatchObject({ loads: 1, retries: 2, failures: 0 });
  });

  it('fails with a 503 LoadFailedError after the retries, keeping the cause for the log', async () => {
    await sut.close();
    sut = loaderIn(tmp.dir, { retry_attempts: 1 });
    const cause = new Error('relation "captions" does not exist');
    const source: ChunkSource<string> = { key: 'broken', loadChunk: () => Promise.reject(cause) };
    const err = await rejection<LoadFailedError>(sut.getChunk(source, 0));
    expect(err).toBeInstanceOf(LoadFailedError);
    expect([err.status, err.code, err.attempts, err.cause]).toEqual([503, 'load_failed', 2, cause]);
    expect(err.message).not.toContain('captions');
  });

  it('drops invalidated chunks from both tiers and does not cache a load that was in flight', async () => {
    const { source, calls } = countingSource(100, 'history:u1', 10);
    await sut.getChunk(source, 0);
    await sut.getChunk({ ...source, key: 'history:u2' }, 0);
    await sut.flush();
    await sut.invalidate('history:u1');
    expect((await sut.getChunk(source, 0)).tier).toBe('source');
    expect((await sut.getChunk({ ...source, key: 'history:u2' }, 0)).tier).toBe('memory');

    let release: (() => void) | undefined;
    let slowCalls = 0;
    const slow: ChunkSource<number> = {
      key: 'history:u3',
      async loadChunk() {
        if (++slowCalls === 1) await new Promise<void>((r) => (release = r));
        return [slowCalls];
      },
    };
    const pending = sut.getChunk(slow, 0);
    await vi.waitFor(() => expect(release).toBeDefined());
    await sut.invalidate('history:u3');
    release?.();
    expect((await pending).items).toEqual([1]);
    const fresh = await sut.getChunk(slow, 0);
    expect([fresh.tier, fresh.items]).toEqual(['source', [2]]);
    expect(calls).toEqual([0, 0, 0]);
  });

  it('reports every stats key with true figures and a hit rate that never passes 1', async () => {
    const { source } = countingSource(35, 's', 10);
    for (let i = 0; i < 4; i++) await sut.getChunk(source, i);
    for (let i = 0; i < 4; i++) await sut.getChunk(source, i);
    await sut.flush();
    const stats = sut.getStats();
    expect(Object.keys(stats).sort()).toEqual(
      [
        'total_chunks_loaded', 'total_pages_loaded', 'total_streams', 'cache_hits', 'disk_cache_hits',
        'compression_savings', 'memory_usage_mb', 'avg_chunk_load_time', 'avg_page_load_time', 'active_chunks',
        'active_pages', 'active_streams', 'background_tasks', 'disk_cache_size_mb', 'cache_hit_rate', 'tiers',
      ].sort(),
    );
    expect(stats).toMatchObject({ total_chunks_loaded: 4, cache_hits: 4, active_chunks: 4, cache_hit_rate: 0.5 });
    expect(stats.tiers.disk.entries).toBe(4);
    expect(stats.disk_cache_size_mb).toBeGreaterThan(0);
    expect(stats.memory_usage_mb).toBeGreaterThan(10);
    const end = sut.trackStream();
    expect(sut.getStats()).toMatchObject({ total_streams: 1, active_streams: 1 });
    end();
    end();
    expect(sut.getStats().active_streams).toBe(0);
    await sut.clearCache();
    expect(sut.getStats()).toMatchObject({ active_chunks: 0, disk_cache_size_mb: 0 });
    expect(sut.getStats().tiers.disk.entries).toBe(0);
  });

  it('reports each source load to onChunkLoad listeners (for a histogram)', async () => {
    const seen: string[] = [];
    const off = sut.onChunkLoad((e) => seen.push(`${e.outcome}:${e.attempts}:${e.seconds >= 0}`));
    const { source } = countingSource(20, 's', 10);
    await sut.getChunk(source, 0);
    await sut.getChunk(source, 0);
    off();
    await sut.getChunk(source, 1);
    expect(seen).toEqual(['ok:1:true']);
  });

  it('goes to the source every time when caching is off, still one call per concurrent chunk', async () => {
    await sut.close();
    sut = loaderIn(tmp.dir, { enable_caching: false });
    const { source, calls } = countingSource(20, 's', 10);
    await Promise.all([sut.getChunk(source, 0), sut.getChunk(source, 0)]);
    await sut.getChunk(source, 0);
    expect(calls).toEqual([0, 0]);
    expect(sut.getStats().cache_hit_rate).toBe(0);
  });

  it('reports the disk tier healthy when its directory is writable, and the memory budget', async () => {
    const health = await sut.diskHealth();
    expect(health.ok).toBe(true);
    expect(health.detail.free_mb).toBeGreaterThan(0);
    expect(sut.status().memory.max_bytes).toBe(512 * 1024 * 1024);
  });

  it('gives one status snapshot: the figures and each tier\'s bounds and state', async () => {
    const { source } = countingSource(20, 's', 10);
    await sut.getChunk(source, 0);
    const status = sut.status();
    expect(status).toMatchObject({
      caching_enabled: true,
      ttl_seconds: 3600,
      memory: { enabled: true, max_entries: 50, max_bytes: 512 * 1024 * 1024 },
      disk: { enabled: true, open: true, max_entries: 1000, max_bytes: 1024 * 1024 * 1024 },
    });
    expect(status.stats).toMatchObject({ total_chunks_loaded: 1, active_chunks: 1 });
    await sut.close();
    expect(sut.status().disk.open).toBe(false);
    sut = loaderIn(tmp.dir, { enable_caching: false });
    expect(sut.status()).toMatchObject({ caching_enabled: false, memory: { enabled: false }, disk: { enabled: false, open: false } });
    expect((await sut.diskHealth()).ok).toBe(true);
  });
});
