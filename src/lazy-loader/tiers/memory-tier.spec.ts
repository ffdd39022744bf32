import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryTier } from './memory-tier.js';

describe(MemoryTier.name, () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('evicts the least recently used entries once the byte budget is passed', () => {
    const sut = new MemoryTier({ maxBytes: 300, maxEntries: 100, ttlMs: 60_000 });
    sut.set('a', [1], 100);
    sut.set('b', [2], 100);
    sut.set('c', [3], 100);
    sut.get('a'); // a is now the most recent
    sut.set('d', [4], 100);
    expect(sut.has('b')).toBe(false);
    expect(['a', 'c', 'd'].every((k) => sut.has(k))).toBe(true);
    expect(sut.bytes).toBe(300);
    expect(sut.evictions).toBe(1);
  });

  it('evicts by entry count even when bytes remain', () => {
    const sut = new MemoryTier({ maxBytes: 1_000_000, maxEntries: 2, ttlMs: 60_000 });
    sut.set('a', [1], 10);
    sut.set('b', [2], 10);
    sut.set('c', [3], 10);
    expect(sut.entries).toBe(2);
    expect(sut.has('a')).toBe(false);
  });

  it('does not store a chunk larger than the whole budget', () => {
    const sut = new MemoryTier({ maxBytes: 100, maxEntries: 10, ttlMs: 60_000 });
    sut.set('big', [1], 101);
    expect(sut.has('big')).toBe(false);
    expect(sut.bytes).toBe(0);
  });

  it('expires entries after the TTL, and serves them stale only when asked', () => {
    const sut = new MemoryTier({ maxBytes: 1000, maxEntries: 10, ttlMs: 1000 });
    sut.set('a', ['x'], 10);
    sut.set('b', ['y'], 10);
    vi.advanceTimersByTime(999);
    expect(sut.get('a')?.stale).toBe(false);
    vi.advanceTimersByTime(2);
    expect(sut.get('b', true)).toEqual({ items: ['y'], sizeBytes: 10, stale: true });
    expect(sut.get('a')).toBeUndefined();
    expect(sut.entries).toBe(1); // the expired `a` was dropped, the stale `b` kept for its refresh
  });

  it('cleans up by fewest accesses, then oldest access, down to the target', () => {
    const sut = new MemoryTier({ maxBytes: 1000, maxEntries: 10, ttlMs: 60_000 });
    for (const k of ['a', 'b', 'c', 'd']) {
      sut.set(k, [k], 100);
      vi.advanceTimersByTime(10);
    }
    sut.get('a');
    sut.get('a');
    sut.get('c');
    vi.advanceTimersByTime(10);
    sut.get('b'); // b and c: 2 accesses each, b accessed later
    const removed = sut.cleanup(200);
    expect(removed).toBe(2);
    expect(sut.has('d')).toBe(false); // 1 access
    expect(sut.has('c')).toBe(false); // 2 accesses, older than b
    expect(sut.has('a') && sut.has('b')).toBe(true);
    expect(sut.cleanup(200)).toBe(0);
  });

  it('counts hits and misses and drops entries by key prefix', () => {
    const sut = new MemoryTier({ maxBytes: 1000, maxEntries: 10, ttlMs: 60_000 });
    sut.set('user:1:0', [1], 10);
    sut.set('user:1:1', [2], 10);
    sut.set('user:2:0', [3], 10);
    sut.get('user:1:0');
    sut.get('nope');
    expect(sut.deletePrefix('user:1:')).toBe(2);
    expect([sut.hits, sut.misses, sut.entries]).toEqual([1, 1, 1]);
  });

  it('rejects budgets that cannot work', () => {
    expect(() => new MemoryTier({ maxBytes: 0, maxEntries: 1, ttlMs: 1 })).toThrow(/maxBytes/);
    expect(() => new MemoryTier({ maxBytes: 1, maxEntries: 0.5, ttlMs: 1 })).toThrow(/maxEntries/);
  });
});
