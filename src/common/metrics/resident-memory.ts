/** How old a reading of the resident set may be when it is served again. */
export const RESIDENT_MEMORY_MAX_AGE_MS = 1000;

let readAt = Number.NEGATIVE_INFINITY;
let bytes = 0;

/**
 * The process' resident set size in bytes, read at most once per
 * {@link RESIDENT_MEMORY_MAX_AGE_MS}: reading it opens and parses `/proc/self/stat`, which cost a
 * tenth of `GET /stats`' CPU under load when every request read it. The figure is never older than
 * that; what needs it fresh (the memory monitor, readiness) reads `process.memoryUsage.rss()` itself.
 */
export function residentMemoryBytes(now = performance.now()): number {
  if (now - readAt >= RESIDENT_MEMORY_MAX_AGE_MS) {
    bytes = process.memoryUsage.rss();
    readAt = now;
  }
  return bytes;
}
