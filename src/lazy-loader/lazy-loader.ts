import { setMaxListeners } from 'node:events';
import type { Observable } from 'rxjs';
import { MB } from '../config/units.js';
import { packItems } from './compression.js';
import { heapBytesOf } from './heap-size.js';
import { Coalescer, type FlightContext } from './coalescer.js';
import { type LargeDataConfig, LoadStrategy } from './loader-config.js';
import { LoadFailedError, LoadTimeoutError } from './load-errors.js';
import { LoaderCounters, secondsSince, statsOf } from './loader-stats.js';
import type { ChunkReader, LoaderMaintenance, LoaderMonitor, MaintenanceTask } from './loader-ports.js';
import type {
  ChunkLoadEvent,
  ChunkReadOptions,
  ChunkSource,
  DataChunk,
  DiskHealth,
  LazyLoaderStats,
  LoaderStatus,
  PageInfo,
} from './lazy-loader.types.js';
import { withRetry } from './retry.js';
import { chunkSequence, loadPage, onDemand, streamItems, type StreamItemsOptions } from './strategies.js';
import { DiskTier } from './tiers/disk-tier.js';
import { MemoryTier } from './tiers/memory-tier.js';
import { WriteQueue } from './tiers/write-queue.js';
/** Sources remembered for the scheduled prefetch of what follows recent reads. */
const RECENT_SOURCES = 64;

interface RecentRead {
  source: ChunkSource<unknown>;
  chunkSize: number;
  index: number;
}

export interface LazyLoaderDeps {
  /** Clock in ms for TTLs; `Date.now` by default. */
  now?: () => number;
  /** [0, 1) for retry jitter. */
  random?: () => number;
  /** Test seam for a full disk: `PRAGMA max_page_count` of the disk tier. */
  diskMaxFilePages?: number;
}

/**
 * The lazy loader: reads go memory → disk → source, one source call
 * per chunk however many callers ask, every source attempt bounded by `load_timeout` and retried
 * `retry_attempts` times. Plain TypeScript: `LazyLoaderService` is its Nest face.
 *
 * Its tiers and counters are its own: the strategies get a {@link ChunkReader}, monitoring reads
 * {@link LazyLoader.status} (a {@link LoaderMonitor}), and the scheduler runs
 * {@link LazyLoader.maintenanceTasks} (a {@link LoaderMaintenance}).
 */
export class LazyLoader implements LoaderMonitor, LoaderMaintenance {
  private readonly memory: MemoryTier | null;
  private readonly disk: DiskTier | null;
  private readonly counters = new LoaderCounters();
  private readonly flights = new Coalescer();
  private readonly writes: WriteQueue | null;
  private readonly recent = new Map<string, RecentRead>();
  /** Last index known to exist, per chunk namespace, learned from short chunks (no prefetch past the end). */
  private readonly ends = new Map<string, number>();
  private readonly baselineRss = process.memoryUsage.rss();
  private readonly stopBackground = new AbortController();

  /** What the strategies see of this loader; `getChunk`/`prefetch` are looked up per call, so a spy on them sees strategy reads too. */
  private readonly reader: ChunkReader;

  /**
   * @param config the resolved configuration (`resolveLoaderConfig()`); kept as given, frozen.
   * @throws SymlinkRefusedError when the disk tier's directory or file is a symbolic link.
   */
  constructor(
    readonly config: LargeDataConfig,
    private readonly deps: LazyLoaderDeps = {},
  ) {
    // Background prefetch links up to RECENT_SOURCES × prefetch_chunks loads to this one signal
    // at a time (each unlinks when done): concurrency, not a leak.
    setMaxListeners(RECENT_SOURCES * Math.max(1, config.chunk_config.prefetch_chunks) + 1, this.stopBackground.signal);
    const ttlMs = config.cache_ttl * 1000;
    this.memory = config.enable_caching
      ? new MemoryTier({
          maxBytes: config.max_memory_mb * MB,
          maxEntries: config.chunk_config.max_chunks_in_memory,
          ttlMs,
          now: deps.now,
        })
      : null;
    this.disk =
      config.enable_caching && config.enable_disk_cache
        ? new DiskTier({
            dir: config.disk_cache_dir,
            maxBytes: config.disk_cache_max_mb * MB,
            maxEntries: config.cache_size,
            ttlMs,
            compression: config.chunk_config.compression_type,
            compressionThreshold: config.chunk_config.compression_threshold,
            now: deps.now,
            maxFilePages: deps.diskMaxFilePages,
          })
        : null;
    // Writes run behind the response, in a queue of at most 10% of the memory budget (1–64 MB).
    this.writes = this.disk ? new WriteQueue(this.disk, Math.min(64 * MB, Math.max(MB, this.maxMemoryBytes / 10))) : null;
    this.reader = {
      prefetchChunks: config.chunk_config.prefetch_chunks,
      maxChunksAhead: config.chunk_config.max_chunks_in_memory,
      keepsChunks: this.memory !== null,
      chunkSizeOf: (source) => this.chunkSizeOf(source),
      getChunk: (source, index, opts) => this.getChunk(source, index, opts),
      prefetch: (source, index, signal) => this.prefetch(source, index, signal),
      trackStream: () => this.trackStream(),
      trackBackground: (run) => this.counters.track(run),
      trackPage: (read) => this.trackPage(read),
    };
  }

  /** The memory budget in bytes (`max_memory_mb`). */
  private get maxMemoryBytes(): number {
    return this.config.max_memory_mb * MB;
  }

  /**
   * Items per chunk of `source`: its own `chunkSize`, else the profile's `chunk_size`.
   * @throws RangeError when `source.chunkSize` is not a positive integer.
   */
  chunkSizeOf(source: ChunkSource<unknown>): number {
    const size = source.chunkSize ?? this.config.chunk_config.chunk_size;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunkSize must be a positive integer, got ${size}`);
    return size;
  }

  /** The cache key of chunk `index` of `source`: `<key>:<chunkSize>:<index>` (what `invalidate` prefixes match). */
  chunkId(source: ChunkSource<unknown>, index: number): string {
    return `${source.key}:${this.chunkSizeOf(source)}:${index}`;
  }

  /**
   * Chunk `index` of `source`: memory → disk → source, filling the nearer tiers on the way back.
   * Concurrent calls for one chunk share one source call. With `allowStale` (BACKGROUND) an
   * expired cached chunk is returned at once (`stale: true`) and refreshed behind. A chunk shorter
   * than the chunk size marks the end of the data (prefetch never goes past it). Counted as a
   * lookup in `cache_hit_rate`.
   * @throws RangeError when `index` is not an integer ≥ 0.
   * @throws LoadTimeoutError when every attempt timed out; LoadFailedError when the source kept
   *   failing; the signal's reason when `signal` aborted.
   */
  async getChunk<T>(
    source: ChunkSource<T>,
    index: number,
    opts: ChunkReadOptions & { allowStale?: boolean } = {},
  ): Promise<DataChunk<T>> {
    if (!Number.isInteger(index) || index < 0) throw new RangeError(`chunk index must be an integer ≥ 0, got ${index}`);
    const chunkSize = this.chunkSizeOf(source);
    const id = `${source.key}:${chunkSize}:${index}`;
    this.counters.lookups++;
    this.noteRead(source, chunkSize, index);
    const hit = this.memory?.get(id, opts.allowStale);
    if (hit) {
      this.counters.lookupHits++;
      if (hit.stale) this.refreshBehind(source, index, chunkSize, id);
      return { id, index, items: hit.items as T[], sizeBytes: hit.sizeBytes, tier: 'memory', ...(hit.stale ? { stale: true } : {}) };
    }
    const chunk = await this.flights.run(
      id,
      (ctx) => this.fill(source, index, chunkSize, id, ctx, opts.allowStale ?? false),
      opts.signal,
    );
    if (chunk.tier !== 'source') this.counters.lookupHits++;
    // Refreshed only now: while the read was in flight, its own key was taken.
    if (chunk.stale) this.refreshBehind(source, index, chunkSize, id);
    return chunk;
  }

  /**
   * Starts loading chunk `index` unless it is cached or already loading; not counted as a
   * lookup. It stops when `signal` aborts and nobody else waits for it. A no-op with caching
   * off (there would be nowhere to keep the chunk) and past a known end of the data.
   * @returns a promise that settles when the load does; it never rejects (a failed prefetch is only counted).
   */
  prefetch<T>(source: ChunkSource<T>, index: number, signal?: AbortSignal): Promise<void> {
    if (!this.memory) return Promise.resolve();
    const chunkSize = this.chunkSizeOf(source);
    const id = `${source.key}:${chunkSize}:${index}`;
    const end = this.ends.get(`${source.key}:${chunkSize}`);
    if ((end !== undefined && index > end) || this.memory?.has(id) || this.flights.has(id)) return Promise.resolve();
    const run = this.flights.run(id, (ctx) => this.fill(source, index, chunkSize, id, ctx, false), signal);
    return this.counters.track(run).then(
      () => undefined,
      () => undefined,
    );
  }

  private async fill<T>(
    source: ChunkSource<T>,
    index: number,
    chunkSize: number,
    id: string,
    ctx: FlightContext,
    allowStale: boolean,
    fromSource = false,
  ): Promise<DataChunk<T>> {
    if (this.disk && !fromSource) {
      const d = await this.disk.get(id, allowStale);
      if (d) {
        if (!d.stale && !ctx.detached()) this.memory?.set(id, d.items, d.sizeBytes);
        return { id, index, items: d.items as T[], sizeBytes: d.sizeBytes, tier: 'disk', ...(d.stale ? { stale: true } : {}) };
      }
    }
    const items = await this.loadFromSource(source, index, chunkSize, id, ctx.signal);
    // What the memory tier counts: the items' heap, not their serialised size (rows as objects
    // take about twice their JSON, so a tier counting JSON outgrew its budget that far).
    const sizeBytes = heapBytesOf(items);
    if (items.length < chunkSize) {
      this.ends.set(`${source.key}:${chunkSize}`, index);
      // Bounded like the recent reads: one entry per namespace, the oldest forgotten first.
      if (this.ends.size > RECENT_SOURCES * 16) this.ends.delete(this.ends.keys().next().value!);
    }
    if (!ctx.detached()) {
      const packed = this.writes ? this.packForDisk(items) : undefined;
      // Room in the write queue first: a scan faster than the disk waits here, instead of
      // piling unwritten chunks up in memory.
      if (packed) await this.writes?.room(packed.length);
      // Invalidated while it waited: the data may be outdated, so it is returned but not cached.
      if (!ctx.detached()) {
        this.memory?.set(id, items, sizeBytes);
        if (packed) this.writes?.start(id, packed, sizeBytes);
      }
    }
    return { id, index, items, sizeBytes, tier: 'source' };
  }

  private async loadFromSource<T>(
    source: ChunkSource<T>,
    index: number,
    chunkSize: number,
    id: string,
    signal: AbortSignal,
  ): Promise<T[]> {
    const start = performance.now();
    const report = (e: Omit<ChunkLoadEvent, 'seconds'>) => this.counters.recordLoad({ ...e, seconds: secondsSince(start) });
    let outcome;
    try {
      outcome = await withRetry((s) => source.loadChunk(index, { chunkSize, signal: s }), {
        timeoutMs: this.config.load_timeout * 1000,
        retries: this.config.retry_attempts,
        signal,
        random: this.deps.random,
      });
    } catch (err) {
      report({ outcome: 'aborted', attempts: 1 });
      throw err;
    }
    if (!outcome.ok) {
      report({ outcome: outcome.timedOut ? 'timeout' : 'failed', attempts: outcome.attempts });
      throw outcome.timedOut
        ? new LoadTimeoutError(id, this.config.load_timeout, outcome.attempts)
        : new LoadFailedError(id, outcome.attempts, outcome.error);
    }
    if (!Array.isArray(outcome.value)) {
      report({ outcome: 'failed', attempts: outcome.attempts });
      throw new LoadFailedError(id, outcome.attempts, new TypeError('loadChunk must resolve to an array'));
    }
    report({ outcome: 'ok', attempts: outcome.attempts });
    return outcome.value as T[];
  }

  /** The disk entry's bytes; undefined (counted as a failed write) for items MessagePack cannot hold. */
  private packForDisk(items: readonly unknown[]): Buffer | undefined {
    try {
      return packItems(items);
    } catch {
      this.disk!.writeErrors++;
      return undefined;
    }
  }

  /** BACKGROUND: an expired chunk was served; load a fresh one behind it (once). */
  private refreshBehind<T>(source: ChunkSource<T>, index: number, chunkSize: number, id: string): void {
    if (this.flights.has(id)) return;
    const run = this.flights.run(
      id,
      (ctx) => this.fill(source, index, chunkSize, id, ctx, false, true),
      this.stopBackground.signal,
    );
    void this.counters.track(run).catch(() => undefined);
  }

  private noteRead(source: ChunkSource<unknown>, chunkSize: number, index: number): void {
    const ns = `${source.key}:${chunkSize}`;
    this.recent.delete(ns);
    this.recent.set(ns, { source, chunkSize, index });
    if (this.recent.size > RECENT_SOURCES) this.recent.delete(this.recent.keys().next().value!);
  }

  /**
   * IMMEDIATE | STREAMING | BACKGROUND over chunk indexes, in order. IMMEDIATE loads every chunk
   * (at most `prefetch_chunks` at once) before the first is yielded; STREAMING yields as chunks
   * load, `prefetch_chunks` ahead, and stops its loads when the consumer leaves the loop;
   * BACKGROUND serves cached chunks even if expired and keeps warming the cache after the consumer
   * leaves. Everything stops when `signal` aborts.
   * @throws RangeError (on iteration) for PAGINATED or ON_DEMAND, which have their own methods.
   */
  loadChunkedData<T>(
    source: ChunkSource<T>,
    indexes: Iterable<number> | AsyncIterable<number>,
    strategy: LoadStrategy,
    opts: ChunkReadOptions = {},
  ): AsyncIterable<DataChunk<T>> {
    return chunkSequence(this.reader, source, indexes, strategy, opts);
  }

  /**
   * STREAMING over items from chunk `fromIndex` (0) until a short chunk, `prefetch_chunks` ahead:
   * a cold Observable (nothing loads before subscribe; unsubscribing or aborting `signal` stops
   * prefetch and pending loads). `ready` is awaited before each item (backpressure). Counts
   * itself in `active_streams`/`total_streams`.
   * @throws RangeError when `fromIndex` is not an integer ≥ 0.
   */
  streamItems<T>(source: ChunkSource<T>, opts: StreamItemsOptions = {}): Observable<T> {
    return streamItems(this.reader, source, opts);
  }

  /**
   * PAGINATED: page `page` (from 1) of `pageSize` items, read from the chunks that hold it whatever
   * the page size, then the `prefetch_chunks` chunks after it prefetched. With `totalItems` the
   * totals are exact; without, `has_next` is true only if an item follows. `cacheHit`: no chunk
   * came from the source.
   * @throws RangeError when `page` or `pageSize` is not an integer ≥ 1; else as `getChunk`.
   */
  loadPage<T>(
    source: ChunkSource<T>,
    page: number,
    pageSize: number,
    opts: ChunkReadOptions & { totalItems?: number | null } = {},
  ): Promise<{ items: T[]; pageInfo: PageInfo; cacheHit: boolean }> {
    return loadPage(this.reader, source, page, pageSize, opts);
  }

  /** ON_DEMAND: a handle that loads nothing until `get(i)` or `slice(start, end)` asks, then only the chunks that hold it. */
  onDemand<T>(source: ChunkSource<T>) {
    return onDemand(this.reader, source);
  }

  /**
   * Drops every cached chunk (memory and disk) of sources whose key starts with `keyPrefix`, once
   * pending disk writes have landed (so none lands after). A load in flight for such a key is
   * returned to its callers but not cached. `''` matches everything (as `clearCache`).
   */
  async invalidate(keyPrefix: string): Promise<void> {
    this.flights.detach(keyPrefix);
    this.memory?.deletePrefix(keyPrefix);
    await this.flush();
    this.disk?.deletePrefix(keyPrefix);
    for (const ns of [...this.ends.keys()]) if (ns.startsWith(keyPrefix)) this.ends.delete(ns);
  }

  /** Empties both tiers (after pending disk writes); loads in flight are returned but not cached. */
  async clearCache(): Promise<void> {
    this.flights.detach('');
    this.memory?.clear();
    await this.flush();
    this.disk?.clear();
    this.ends.clear();
  }

  /** Waits for the disk writes started so far (and any started meanwhile); at once without a disk tier. */
  async flush(): Promise<void> {
    await this.writes?.flush();
  }

  /**
   * Listens to every finished source load, retries included (for a load-time histogram). A
   * listener that throws is ignored. @returns unsubscribe.
   */
  onChunkLoad(listener: (e: ChunkLoadEvent) => void): () => void {
    return this.counters.onLoad(listener);
  }

  /**
   * Counts an open stream in `active_streams`/`total_streams`, for a caller that streams chunks
   * itself (`streamItems` counts its own). @returns the function to call when it ends (idempotent).
   */
  trackStream(): () => void {
    this.counters.totalStreams++;
    this.counters.activeStreams++;
    let open = true;
    return () => {
      if (open) this.counters.activeStreams--;
      open = false;
    };
  }

  /**
   * Counts a page read in `active_pages` while it runs, and in `total_pages_loaded` and
   * `avg_page_load_time` when it succeeds, for a caller that assembles pages from chunks itself
   * (`loadPage` counts its own).
   */
  async trackPage<T>(read: () => Promise<T>): Promise<T> {
    const start = performance.now();
    this.counters.activePages++;
    try {
      const out = await read();
      this.counters.pagesLoaded++;
      this.counters.pageSeconds += secondsSince(start);
      return out;
    } finally {
      this.counters.activePages--;
    }
  }

  /**
   * The disk tier for the readiness probe: open, its directory writable, at least 64 MB free.
   * Touches the file system. `ok` when the tier is off.
   */
  async diskHealth(): Promise<DiskHealth> {
    if (!this.disk) return { ok: true, detail: { open: false, writable: false, free_mb: null, size_mb: 0, entries: 0 } };
    return this.disk.health();
  }

  /**
   * The memory monitor: measures RSS and the memory tier, and runs the access-count cleanup down to
   * `memory_threshold` of the budget when the tier passes it, or when the process has grown by
   * more than the whole budget since start.
   */
  runMemoryMonitor(): { rssMb: number; tierMb: number; removed: number } {
    const rss = process.memoryUsage.rss();
    const target = this.config.memory_threshold * this.maxMemoryBytes;
    let removed = 0;
    if (this.memory && (this.memory.bytes > target || rss - this.baselineRss > this.maxMemoryBytes)) {
      removed = this.memory.cleanup(target);
    }
    return { rssMb: rss / MB, tierMb: (this.memory?.bytes ?? 0) / MB, removed };
  }

  /** The disk sweep: expired entries out, bounds enforced, space given back. A no-op without a disk tier. */
  sweepDisk(): { expired: number } {
    return this.disk?.sweep() ?? { expired: 0 };
  }

  /**
   * Background prefetch: the `prefetch_chunks` chunks after each recently read one (the last 64
   * sources read since the previous run). @returns how many prefetches it started.
   */
  async prefetchRecent(): Promise<number> {
    const reads = [...this.recent.values()];
    this.recent.clear();
    const runs: Promise<void>[] = [];
    for (const r of reads) {
      for (let i = 1; i <= this.config.chunk_config.prefetch_chunks; i++) {
        runs.push(this.prefetch(r.source, r.index + i, this.stopBackground.signal));
      }
    }
    await Promise.all(runs);
    return runs.length;
  }

  /**
   * The scheduled upkeep: the memory monitor, the disk sweep and the background prefetch, at the
   * configured intervals. Each run counts in `background_tasks`.
   */
  maintenanceTasks(): MaintenanceTask[] {
    const c = this.config;
    const task = (name: string, intervalMs: number, work: () => unknown): MaintenanceTask => ({
      name,
      intervalMs,
      run: () => this.counters.track(Promise.resolve().then(work)),
    });
    return [
      task('lazy-loader.memory-monitor', c.memory_monitor_interval_ms, () => this.runMemoryMonitor()),
      task('lazy-loader.disk-sweep', c.disk_sweep_interval_ms, () => this.sweepDisk()),
      task('lazy-loader.prefetch', c.prefetch_interval_ms, () => this.prefetchRecent()),
    ];
  }

  /**
   * The `/stats` figures alone: each measured, `cache_hit_rate` ≤ 1, a tier that is off counts
   * zero. The same as `status().stats`, for callers that want only the figures.
   */
  getStats(): LazyLoaderStats {
    return statsOf(this.counters, this.memory, this.disk);
  }

  /**
   * One snapshot for monitoring: every `/stats` figure and each tier's bounds and state. Counters
   * only, no I/O (the disk tier's probe is `diskHealth()`).
   */
  status(): LoaderStatus {
    const c = this.config;
    return {
      stats: this.getStats(),
      caching_enabled: c.enable_caching,
      ttl_seconds: c.cache_ttl,
      memory: { enabled: this.memory !== null, max_entries: c.chunk_config.max_chunks_in_memory, max_bytes: this.maxMemoryBytes },
      disk: { enabled: this.disk !== null, open: this.disk?.isOpen ?? false, max_entries: c.cache_size, max_bytes: c.disk_cache_max_mb * MB },
    };
  }

  /** Stops background work, finishes pending disk writes and closes the disk tier. */
  async close(): Promise<void> {
    this.stopBackground.abort();
    await this.flush();
    this.disk?.close();
  }
}
