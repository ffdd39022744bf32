import { describe, expect, it } from 'vitest';
import type { Bucket } from './history-buckets.js';
import { addressOf, layoutOf, partKey, type ViewDay } from './history-layout.js';

const day = (d: number, count: number, shifts = 0): ViewDay => ({
  day: d,
  count,
  bucket: { scope: 'all', day: d, rows: count, oldest: 0, newest: 0, shifts } satisfies Bucket,
});

describe(layoutOf.name, () => {
  it('groups sparse days until a group holds a chunk, and gives a dense day a group of its own', () => {
    const sut = layoutOf([day(1, 3), day(2, 4), day(3, 0), day(4, 25), day(5, 2)], 10, 'k');
    expect(sut.total).toBe(34);
    expect(sut.groups.map((g) => [g.firstDay, g.lastDay, g.start, g.count])).toEqual([
      [1, 4, 0, 32],
      [5, 5, 32, 2],
    ]);
    expect(addressOf(sut, 0, 10)).toMatchObject({ part: 0, offset: 0, group: { firstDay: 1 } });
    expect(addressOf(sut, 31, 10)).toMatchObject({ part: 3, offset: 1, group: { firstDay: 1 } });
    expect(addressOf(sut, 33, 10)).toMatchObject({ part: 0, offset: 1, group: { firstDay: 5 } });
    expect(addressOf(sut, 34, 10)).toBeUndefined();
  });

  it('keeps the keys of full parts when rows are appended to the newest day, and re-keys only the short part', () => {
    const before = layoutOf([day(1, 12), day(2, 25)], 10, 'k');
    const after = layoutOf([day(1, 12), day(2, 27)], 10, 'k');
    for (const part of [0, 1]) expect(partKey(after.groups[1]!, part, 10)).toBe(partKey(before.groups[1]!, part, 10));
    expect(partKey(after.groups[1]!, 2, 10)).not.toBe(partKey(before.groups[1]!, 2, 10));
    expect(after.groups[0]!.key).toBe(before.groups[0]!.key);
  });

  it('re-keys the group of a day that shifted or grew behind its last day, and no other', () => {
    const base = [day(1, 12), day(2, 4), day(3, 8), day(4, 12)];
    const before = layoutOf(base, 10, 'k');
    const shifted = layoutOf([day(1, 12, 1), ...base.slice(1)], 10, 'k');
    expect(shifted.groups.map((g) => g.key === before.groups.find((b) => b.firstDay === g.firstDay)?.key)).toEqual([false, true, true]);
    const grew = layoutOf([base[0]!, day(2, 5), ...base.slice(2)], 10, 'k');
    expect(grew.groups.map((g) => g.key === before.groups.find((b) => b.firstDay === g.firstDay)?.key)).toEqual([true, false, true]);
  });
});
