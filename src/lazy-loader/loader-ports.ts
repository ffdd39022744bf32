import type { ChunkLoadEvent, ChunkReadOptions, ChunkSource, DataChunk, DiskHealth, LoaderStatus } from './lazy-loader.types.js';

/**
 * What the strategies (`strategies.ts`) need of the loader: chunk reads, the settings that shape
 * them, and the counters they feed. The loader hands the strategies this and nothing more, so
 * they never reach its tiers or counters (and `strategies.ts` does not import `lazy-loader.ts`).
 */
export interface ChunkReader {
  /** `prefetch_chunks`: chunks loaded ahead of a streaming or paging consumer. */
  readonly prefetchChunks: number;
  /** `max_chunks_in_memory`: how many unconsumed chunks BACKGROUND may hold for a slow consumer. */
  readonly maxChunksAhead: number;
  /** Loaded chunks are kept (caching is on), so a prefetch has somewhere to put what it loads. */
  readonly keepsChunks: boolean;
  /** Items per chunk of `source`. @throws RangeError when `source.chunkSize` is not a positive integer. */
  chunkSizeOf(source: ChunkSource<unknown>): number;
  /** Chunk `index` through the tiers, as `LazyLoader.getChunk`. */
  getChunk<T>(source: ChunkSource<T>, index: number, opts?: ChunkReadOptions & { allowStale?: boolean }): Promise<DataChunk<T>>;
  /** Starts loading chunk `index` unless cached or loading; never rejects. */
  prefetch<T>(source: ChunkSource<T>, index: number, signal?: AbortSignal): Promise<void>;
  /** Counts an open stream; call the returned function once when it ends. */
  trackStream(): () => void;
  /** Counts `run` in `background_tasks` until it settles; returns it. */
  trackBackground<T>(run: Promise<T>): Promise<T>;
  /** Counts a page read: in `active_pages` while `read` runs, in the page totals when it succeeds. */
  trackPage<T>(read: () => Promise<T>): Promise<T>;
}

/** What monitoring needs: one status snapshot, the disk tier's probe, load events and the admin clear. */
export interface LoaderMonitor {
  /** Figures and bounds now, from counters (no I/O). */
  status(): LoaderStatus;
  /** The disk tier's readiness (touches the file system); `ok` when the tier is off. */
  diskHealth(): Promise<DiskHealth>;
  /** Listens to every finished source load. @returns unsubscribe. */
  onChunkLoad(listener: (e: ChunkLoadEvent) => void): () => void;
  /** Empties both tiers. */
  clearCache(): Promise<void>;
}

/** A periodic piece of the loader's upkeep, for the scheduler to run every `intervalMs`. */
export interface MaintenanceTask {
  name: string;
  intervalMs: number;
  /** One run; counted in `background_tasks` while it runs. */
  run(): Promise<unknown>;
}

/** What the scheduler needs: the loader's periodic tasks, each with its interval. */
export interface LoaderMaintenance {
  maintenanceTasks(): MaintenanceTask[];
}
