import type { ChunkLoadEvent } from './lazy-loader.types.js';

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
