import { residentMemoryBytes } from '../common/metrics/resident-memory.js';
import { MB } from '../config/units.js';
import type { ChunkLoadEvent, LazyLoaderStats } from './lazy-loader.types.js';
import type { DiskTier } from './tiers/disk-tier.js';
import type { MemoryTier } from './tiers/memory-tier.js';

/** The running counters behind `getStats()` that no tier owns. */
export class LoaderCounters {
  /** Chunk reads asked for by callers (prefetch is not a lookup). */
  lookups = 0;
  /** Of those, the ones served from memory or disk (so the hit rate can never pass 1). */
  lookupHits = 0;
  sourceLoads = 0;
  sourceFailures = 0;
  sourceTimeouts = 0;
  sourceRetries = 0;
  chunkLoadSeconds = 0;
  pagesLoaded = 0;
  pageSeconds = 0;
  activePages = 0;
  totalStreams = 0;
  activeStreams = 0;
  backgroundTasks = 0;
  private readonly listeners = new Set<(e: ChunkLoadEvent) => void>();

  /** Records one finished source load and tells the listeners. */
  recordLoad(e: ChunkLoadEvent): void {
    this.sourceRetries += e.attempts - 1;
    if (e.outcome === 'ok') {
      this.sourceLoads++;
      this.chunkLoadSeconds += e.seconds;
    } else if (e.outcome === 'timeout') {
      this.sourceTimeouts++;
      this.sourceFailures++;
    } else if (e.outcome === 'failed') {
      this.sourceFailures++;
    }
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A metrics listener must never break a load.
      }
    }
  }

  onLoad(listener: (e: ChunkLoadEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Counts a background task for as long as `p` runs. */
  track<T>(p: Promise<T>): Promise<T> {
    this.backgroundTasks++;
    return p.finally(() => this.backgroundTasks--);
  }
}

/** Seconds since `start` (a `performance.now()` reading). */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;

/** `getStats()`: the `/stats` keys from the counters and the tiers (a tier that is off counts zero). */
export function statsOf(c: LoaderCounters, m: MemoryTier | null, d: DiskTier | null): LazyLoaderStats {
  return {
    total_chunks_loaded: c.sourceLoads,
    total_pages_loaded: c.pagesLoaded,
    total_streams: c.totalStreams,
    cache_hits: m?.hits ?? 0,
    disk_cache_hits: d?.hits ?? 0,
    compression_savings: d?.compressionSavings ?? 0,
    memory_usage_mb: residentMemoryBytes() / MB,
    avg_chunk_load_time: c.sourceLoads ? c.chunkLoadSeconds / c.sourceLoads : 0,
    avg_page_load_time: c.pagesLoaded ? c.pageSeconds / c.pagesLoaded : 0,
    active_chunks: m?.entries ?? 0,
    active_pages: c.activePages,
    active_streams: c.activeStreams,
    background_tasks: c.backgroundTasks,
    disk_cache_size_mb: (d?.bytes ?? 0) / MB,
    cache_hit_rate: c.lookups ? c.lookupHits / c.lookups : 0,
    tiers: {
      memory: { hits: m?.hits ?? 0, misses: m?.misses ?? 0, bytes: m?.bytes ?? 0, entries: m?.entries ?? 0, evictions: m?.evictions ?? 0 },
      disk: {
        hits: d?.hits ?? 0,
        misses: d?.misses ?? 0,
        bytes: d?.bytes ?? 0,
        entries: d?.entries ?? 0,
        evictions: d?.evictions ?? 0,
        corrupt: d?.corrupt ?? 0,
        write_errors: d?.writeErrors ?? 0,
      },
      source: { loads: c.sourceLoads, failures: c.sourceFailures, timeouts: c.sourceTimeouts, retries: c.sourceRetries },
    },
  };
}
