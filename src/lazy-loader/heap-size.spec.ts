import { describe, expect, it } from 'vitest';
import { heapBytesOf } from './heap-size.js';

describe('heapBytesOf', () => {
  it('counts strings by length, two bytes a character past Latin-1, and small integers as nothing', () => {
    expect(heapBytesOf('a'.repeat(100))).toBe(16 + 104);
    expect(heapBytesOf(`${'a'.repeat(99)}✨`)).toBe(16 + 200);
    expect(heapBytesOf(7)).toBe(0);
    expect(heapBytesOf(0.5)).toBe(16);
    expect(heapBytesOf(null)).toBe(0);
  });

  it('counts objects and arrays by their slots plus what they hold, each object once', () => {
    const row = { id: 1, caption: 'golden hour', score: 61.5 };
    expect(heapBytesOf(row)).toBe(24 + 3 * 8 + (16 + 16) + 16);
    expect(heapBytesOf([row, row])).toBe(32 + 2 * 8 + heapBytesOf(row));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(heapBytesOf(cyclic)).toBe(24 + 2 * 8);
  });

  it('puts caption rows above their JSON size, as V8 holds them', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      id: i, user_id: `user_${i % 997}`, caption: `Golden hour over the bay, take ${i} ✨`, style: 'casual', quality_score: 60 + (i % 400) / 10,
    }));
    const json = Buffer.byteLength(JSON.stringify(rows));
    expect(heapBytesOf(rows)).toBeGreaterThan(1.2 * json);
    expect(heapBytesOf(rows)).toBeLessThan(4 * json);
  });
});
