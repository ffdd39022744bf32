import { describe, expect, it } from 'vitest';
import { affectedPrefixes, DataVersionCache, scopeOfFilter, scopePrefix, scopesOfRows } from './history-versions.js';
import type { NewHistoryRow } from './history.types.js';

/** A database of versions that counts its reads, and a clock the test moves. */
function fixture(freshnessMs: number) {
  const db = new Map<string, number>();
  const reads: string[][] = [];
  let now = 0;
  const sut = new DataVersionCache(
    async (scopes) => {
      reads.push(scopes);
      return new Map(scopes.filter((s) => db.has(s)).map((s) => [s, db.get(s)!]));
    },
    freshnessMs,
    () => now,
  );
  return { sut, db, reads, tick: (ms: number) => (now += ms) };
}

const row = (user_id: string | null, style: string) => ({ user_id, style }) as NewHistoryRow;

describe(DataVersionCache.name, () => {
  it('reads a scope once per freshness bound, and again after it', async () => {
    const { sut, db, reads, tick } = fixture(250);
    db.set('all', 3);
    expect(await sut.versionOf(['all'])).toBe(3);
    db.set('all', 4);
    tick(249);
    expect(await sut.versionOf(['all'])).toBe(3);
    tick(1);
    expect(await sut.versionOf(['all'])).toBe(4);
    expect(reads).toEqual([['all'], ['all']]);
  });

  it('reads on every call with a bound of 0, and counts a scope never written as 0', async () => {
    const { sut, reads } = fixture(0);
    expect(await sut.versionOf(['user:x'])).toBe(0);
    expect(await sut.versionOf(['user:x'])).toBe(0);
    expect(reads).toHaveLength(2);
  });

  it('takes its own writes at once, and never goes back to an older version a racing read brings', async () => {
    const { sut, db, reads } = fixture(250);
    db.set('all', 1);
    expect(await sut.versionOf(['all'])).toBe(1);
    sut.learn(new Map([['all', 5]]));
    expect(await sut.versionOf(['all'])).toBe(5);
    expect(reads).toHaveLength(1);
    // A read that began before the write answers 1 after it: 5 stays.
    const stale = new DataVersionCache(async () => new Map([['all', 1]]), 0, () => 0);
    stale.learn(new Map([['all', 5]]));
    expect(await stale.versionOf(['all'])).toBe(5);
  });

  it('gives the largest version of the scopes asked', async () => {
    const { sut, db } = fixture(250);
    db.set('user:a', 2).set('style:casual', 7);
    expect(await sut.versionOf(['user:a', 'style:casual'])).toBe(7);
  });

  it('refuses a negative bound', () => {
    expect(() => new DataVersionCache(async () => new Map(), -1)).toThrow(RangeError);
  });
});

describe('history scopes', () => {
  it('raise every scope a row belongs to, and a view depends on exactly one', () => {
    expect(scopesOfRows([row('a', 'casual'), row(null, 'funny')]).sort()).toEqual(
      ['all', 'style:casual', 'style:funny', 'user-style:["a","casual"]', 'user:a'].sort(),
    );
    expect(scopeOfFilter({})).toBe('all');
    expect(scopeOfFilter({ from: 1, to: 2 })).toBe('all');
    expect(scopeOfFilter({ userId: 'a' })).toBe('user:a');
    expect(scopeOfFilter({ style: 'casual' })).toBe('style:casual');
    expect(scopeOfFilter({ userId: 'a', style: 'casual' })).toBe('user-style:["a","casual"]');
  });

  it('name in key prefixes every view a row may change, and no other', () => {
    const prefixes = affectedPrefixes([row('a', 'casual')]);
    expect(prefixes.sort()).toEqual(
      [scopePrefix({}), scopePrefix({ style: 'casual' }), scopePrefix({ userId: 'a' }), scopePrefix({ userId: 'a', style: 'casual' })].sort(),
    );
    for (const other of [{ userId: 'b' }, { style: 'funny' }, { userId: 'a', style: 'funny' }, { userId: 'b', style: 'casual' }]) {
      expect(prefixes).not.toContain(scopePrefix(other));
    }
    expect(affectedPrefixes([row(null, 'casual')]).sort()).toEqual([scopePrefix({}), scopePrefix({ style: 'casual' })].sort());
  });
});
