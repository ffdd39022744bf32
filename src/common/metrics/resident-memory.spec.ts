import { afterEach, describe, expect, it, vi } from 'vitest';
import { RESIDENT_MEMORY_MAX_AGE_MS, residentMemoryBytes } from './resident-memory.js';

describe('residentMemoryBytes', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reads the RSS at most once per max age, and again once the reading is that old', () => {
    const rss = vi.spyOn(process.memoryUsage, 'rss');
    // Far from any reading an earlier test may have made: the first call reads.
    const t0 = performance.now() + 10 * RESIDENT_MEMORY_MAX_AGE_MS;
    const first = residentMemoryBytes(t0);
    expect(rss).toHaveBeenCalledTimes(1);
    expect(first).toBeGreaterThan(1024 * 1024);
    expect(residentMemoryBytes(t0 + RESIDENT_MEMORY_MAX_AGE_MS - 1)).toBe(first);
    expect(rss).toHaveBeenCalledTimes(1);
    residentMemoryBytes(t0 + RESIDENT_MEMORY_MAX_AGE_MS);
    expect(rss).toHaveBeenCalledTimes(2);
  });
});
