import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { deleteRedisKeys, uniqueRedisPrefix } from './support/redis-server.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const redisUrl = process.env.TEST_REDIS_URL;
if (!redisUrl) {
  console.warn('\n*** SKIPPED: keyed cache Redis tier specs (set TEST_REDIS_URL to run them) ***\n');
}

describe('KeyedCacheModule', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { LAZY_CACHE_SIZE: '2' } });
  });
  afterAll(async () => t.close());
  afterEach(() => vi.useRealTimers());

  it('stores and expires values with millisecond TTLs', async () => {
    // Only the clock the expiry reads is fake: timers and I/O run as usual.
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    const sut = t.app.get<Cache>(CACHE_MANAGER);
    await sut.set('k', { n: 1 }, 50);
    vi.advanceTimersByTime(49);
    expect(await sut.get('k')).toEqual({ n: 1 });
    vi.advanceTimersByTime(2);
    expect(await sut.get('k')).toBeUndefined();
  });

  it('bounds the memory tier to LAZY_CACHE_SIZE entries, least recently used first', async () => {
    const sut = t.app.get<Cache>(CACHE_MANAGER);
    await sut.set('a', 1);
    await sut.set('b', 2);
    await sut.get('a');
    await sut.set('c', 3);
    expect(await sut.get('a')).toBe(1);
    expect(await sut.get('b')).toBeUndefined();
    expect(await sut.get('c')).toBe(3);
  });
});

describe.skipIf(!redisUrl)('KeyedCacheModule with a Redis tier', () => {
  const prefix = uniqueRedisPrefix('keyed-cache');
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await createTestApp({ env: { REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix } });
    b = await createTestApp({ env: { REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix } });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await deleteRedisKeys(prefix, redisUrl);
  });

  it('shares values between two instances through Redis', async () => {
    const key = `shared-${process.pid}-${Date.now()}`;
    await a.app.get<Cache>(CACHE_MANAGER).set(key, 'from-a', 10_000);
    expect(await b.app.get<Cache>(CACHE_MANAGER).get(key)).toBe('from-a');
    await a.app.get<Cache>(CACHE_MANAGER).del(key);
  });
});
