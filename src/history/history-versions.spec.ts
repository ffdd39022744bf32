import { describe, expect, it } from 'vitest';
import { bucketDeltas, bucketScopeOf, type Bucket } from './history-buckets.js';
import { DataVersionCache } from './history-versions.js';
import type { NewHistoryRow } from './history.types.js';

const bucket = (scope: string, day: number, rows: number, shifts = 0): Bucket => ({ scope, day, rows, oldest: 0, newest: 0, shifts });

/** A database of buckets that counts its reads, and a clock the test moves. */
function fixture(freshnessMs: number) {
  const db = new Map<string, Bucket[]>();
  const reads: string[] = [];
  let now = 0;
  const sut = new DataVersionCache(
    async (scope) => {
      reads.push(scope);
      return db.get(scope) ?? [];
    },
    freshnessMs,
    () => now,
  );
  return { sut, db, reads, tick: (ms: number) => (now += ms) };
}

const row = (user_id: string | null, style: string, at: number) => ({ user_id, style, created_at: new Date(at) }) as NewHistoryRow & { created_at: Date };

describe(DataVersionCache.name, () => {
  it('reads a scope once per freshness bound, and again after it', async () => {
    const { sut, db, reads, tick } = fixture(250);
    db.set('all', [bucket('all', 1, 3)]);
    expect(await sut.bucketsOf('all')).toEqual([bucket('all', 1, 3)]);
    db.set('all', [bucket('all', 1, 4)]);
    tick(249);
    expect((await sut.bucketsOf('all'))[0]!.rows).toBe(3);
    tick(1);
    expect((await sut.bucketsOf('all'))[0]!.rows).toBe(4);
    expect(reads).toEqual(['all', 'all']);
  });

  it('reads on every call with a bound of 0, and gives no buckets for a scope never written', async () => {
    const { sut, reads } = fixture(0);
    expect(await sut.bucketsOf('user:x')).toEqual([]);
    expect(await sut.bucketsOf('user:x')).toEqual([]);
    expect(reads).toHaveLength(2);
  });

  it('takes its own writes at once, and never goes back to an older state a racing read brings', async () => {
    const { sut, db, reads } = fixture(250);
    db.set('all', [bucket('all', 1, 1)]);
    const before = await sut.bucketsOf('all');
    sut.learn([bucket('all', 1, 5), bucket('all', 2, 1), bucket('user:unread', 2, 1)]);
    const after = await sut.bucketsOf('all');
    expect(after).toEqual([bucket('all', 1, 5), bucket('all', 2, 1)]);
    // A new list object (callers memoise per list), and nothing read for it.
    expect(after).not.toBe(before);
    expect(reads).toHaveLength(1);
    // A read that began before the write answers 1 after it: 5 stays.
    const stale = new DataVersionCache(async () => [bucket('all', 1, 1)], 0, () => 0);
    await stale.bucketsOf('all');
    stale.learn([bucket('all', 1, 5, 1)]);
    expect(await stale.bucketsOf('all')).toEqual([bucket('all', 1, 5, 1)]);
  });

  it('shares one read among concurrent callers', async () => {
    const { sut, reads } = fixture(0);
    await Promise.all([sut.bucketsOf('all'), sut.bucketsOf('all'), sut.bucketsOf('all')]);
    expect(reads).toHaveLength(1);
  });

  it('refuses a negative bound', () => {
    expect(() => new DataVersionCache(async () => [], -1)).toThrow(RangeError);
  });
});

describe('history buckets', () => {
  it('raise the all, user and style bucket of each row\'s day, all first, and a view reads one scope', () => {
    const day = 86_400_000;
    const deltas = bucketDeltas([row('a', 'casual', 5 * day + 10), row('a', 'casual', 5 * day + 20), row(null, 'funny', 6 * day), row('a', 'casual', -1)]);
    expect(deltas.map((b) => `${b.scope}@${b.day}:${b.rows}`)).toEqual([
      'all@-1:1', 'all@5:2', 'all@6:1', 'style:casual@-1:1', 'style:casual@5:2', 'style:funny@6:1', 'user:a@-1:1', 'user:a@5:2',
    ]);
    expect(deltas.find((b) => b.scope === 'user:a' && b.day === 5)).toMatchObject({ oldest: 5 * day + 10, newest: 5 * day + 20, shifts: 0 });
    expect(bucketScopeOf({})).toBe('all');
    expect(bucketScopeOf({ from: 1, to: 2 })).toBe('all');
    expect(bucketScopeOf({ userId: 'a' })).toBe('user:a');
    expect(bucketScopeOf({ style: 'casual' })).toBe('style:casual');
    expect(bucketScopeOf({ userId: 'a', style: 'casual' })).toBe('user:a');
  });
});
