/** Where a chunk was found. */
export type ChunkTier = 'memory' | 'disk' | 'source';

/**
 * A data set as the caller describes it; the loader never knows what an item is.
 * Items must be JSON-serializable (the disk tier stores them as JSON).
 */
export interface ChunkSource<T> {
  /** Cache namespace: must change whenever the data would (filter hash, dataset version…). */
  key: string;
  /** Items per chunk; defaults to the profile's chunk_size. */
  chunkSize?: number;
  /** Loads chunk `index` = items [index*chunkSize, (index+1)*chunkSize); fewer (or none) at the end. */
  loadChunk(index: number, ctx: { chunkSize: number; signal: AbortSignal }): Promise<T[]>;
}

/** One loaded chunk. `items` is always decoded data, never compressed bytes. */
export interface DataChunk<T> {
  /** `<source.key>:<chunkSize>:<index>`; a cache key, never a file path. */
  id: string;
  index: number;
  items: T[];
  /** Estimated JS heap bytes of the items (`heapBytesOf`): what the memory tier charges against its budget. */
  sizeBytes: number;
  tier: ChunkTier;
  /** True when a BACKGROUND read served an expired entry (a refresh is running behind it). */
  stale?: boolean;
}

/** `PageInfo`: where a page sits in the whole. Totals are `null` when the caller did not give one. */
export interface PageInfo {
  page: number;
  page_size: number;
  total_items: number | null;
  total_pages: number | null;
  has_next: boolean;
  has_previous: boolean;
}

/** Per-call options of chunk reads. */
export interface ChunkReadOptions {
  /** Aborting it stops this caller's wait, and the load itself once no other caller waits for it. */
  signal?: AbortSignal;
}

/** One source load, as reported to `onChunkLoad` listeners (for a load-time histogram). */
export interface ChunkLoadEvent {
  /** Wall time of the whole load, retries and backoff included. */
  seconds: number;
  outcome: 'ok' | 'timeout' | 'failed' | 'aborted';
  attempts: number;
}

/** `GET /stats`: the loader's metrics, each a true figure, plus per-tier detail. */
export interface LazyLoaderStats {
  /** Chunks loaded from the source. */
  total_chunks_loaded: number;
  /** Pages served by `loadPage`. */
  total_pages_loaded: number;
  /** Streams opened (`streamItems` subscriptions and `trackStream` calls). */
  total_streams: number;
  /** Memory-tier hits. */
  cache_hits: number;
  /** Disk-tier hits. */
  disk_cache_hits: number;
  /** Bytes saved by compression over all disk writes (raw JSON minus stored bytes). */
  compression_savings: number;
  /** Resident set size of the process, MB, measured now. */
  memory_usage_mb: number;
  /** Mean seconds of a source load (retries included). */
  avg_chunk_load_time: number;
  /** Mean seconds of a `loadPage`. */
  avg_page_load_time: number;
  /** Chunks in the memory tier. */
  active_chunks: number;
  /** `loadPage` calls in progress. */
  active_pages: number;
  /** Streams open now. */
  active_streams: number;
  /** Prefetches, background refreshes and scheduled runs in progress. */
  background_tasks: number;
  disk_cache_size_mb: number;
  /** (memory hits + disk hits) ÷ chunk lookups; 0 before any lookup, never above 1. */
  cache_hit_rate: number;
  tiers: {
    memory: { hits: number; misses: number; bytes: number; entries: number; evictions: number };
    disk: {
      hits: number;
      misses: number;
      bytes: number;
      entries: number;
      evictions: number;
      corrupt: number;
      write_errors: number;
    };
    source: { loads: number; failures: number; timeouts: number; retries: number };
  };
}

/** The disk tier's readiness: open, its directory writable, room left on its volume. */
export interface DiskHealth {
  ok: boolean;
  detail: {
    open: boolean;
    writable: boolean;
    /** Free space on the volume, MB; `null` when it could not be measured. */
    free_mb: number | null;
    size_mb: number;
    entries: number;
    /** Code of the last failure (`EACCES`, `SQLITE_FULL`…): never a message, which could carry a path. */
    error?: string;
  };
}

/**
 * One snapshot of the loader, for monitoring: its figures and each tier's bounds. Read from
 * counters only (no I/O), so it is cheap enough for every `/stats` call; the disk tier's health,
 * which touches the file system, is `diskHealth()`.
 */
export interface LoaderStatus {
  /** The `/stats` figures. */
  stats: LazyLoaderStats;
  /** `enable_caching`: off means both tiers are off and every read goes to the source. */
  caching_enabled: boolean;
  /** Seconds a cached chunk stays fresh, in both tiers. */
  ttl_seconds: number;
  memory: {
    /** The tier exists (caching is on). */
    enabled: boolean;
    /** `max_chunks_in_memory`. */
    max_entries: number;
    /** The memory budget, `max_memory_mb` in bytes: the tier's bound and the readiness probe's limit on resident memory. */
    max_bytes: number;
  };
  disk: {
    /** The tier exists (caching and the disk cache are on). */
    enabled: boolean;
    /** Its file is open (false once closed, or when it could not be opened). */
    open: boolean;
    /** `cache_size`. */
    max_entries: number;
    /** `disk_cache_max_mb` in bytes. */
    max_bytes: number;
  };
}
