import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../src/common/redis/redis-connection.js';
import { redisFailures } from '../src/common/redis/redis.metrics.js';
import { SharedTokenBuckets } from '../src/common/security/rate-limit/bucket-stores.js';
import { loadConfig } from '../src/config/app-config.js';
import { OwnRedisServer, uniqueRedisPrefix } from './support/redis-server.js';

const failures = async () => (await redisFailures.get()).values.find((v) => v.labels.feature === 'rate_limit')?.value ?? 0;

/** Two processes' worth of limiters: each its own connection, one Redis. */
describe(`${SharedTokenBuckets.name} on a Redis of the spec's own`, () => {
  const redis = new OwnRedisServer();
  const connections: RedisConnection[] = [];
  const open = async () => {
    const c = new RedisConnection(loadConfig({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix }));
    await c.onModuleInit();
    connections.push(c);
    return new SharedTokenBuckets(c, 'work', { capacity: 10, windowMs: 3_600_000 });
  };
  const prefix = uniqueRedisPrefix('rate-limit');

  beforeAll(async () => redis.start());
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.onApplicationShutdown()));
    await redis.close();
  });

  it('holds one budget for every instance: together they pass the capacity, not a multiple of it', async () => {
    const [a, b, c] = [await open(), await open(), await open()];
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]!.charge('client-1', 1)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    const refused = outcomes.find((o) => !o.ok)!;
    expect(refused.remaining).toBe(0);
    // One unit at 10 an hour.
    expect(refused.retryAfterMs).toBeGreaterThan(300_000);
    expect((await a.charge('client-2', 4)).remaining).toBe(6);
    // A cost larger than what is left: refused, nothing taken.
    expect((await b.charge('client-2', 7)).ok).toBe(false);
    expect((await c.charge('client-2', 6)).remaining).toBe(0);
  });

  it("falls back to the process's own buckets while Redis is down, counted, and shares again once it is back", async () => {
    const sut = await open();
    expect((await sut.charge('client-3', 9)).ok).toBe(true);
    await redis.stop();
    await expect.poll(() => connections.at(-1)!.ready).toBe(false);
    const before = await failures();
    // The process' own bucket is full: still the configured limit, per process.
    const local = await Promise.all(Array.from({ length: 12 }, () => sut.charge('client-3', 1)));
    expect(local.filter((o) => o.ok)).toHaveLength(10);
    expect(await failures()).toBe(before + 12);

    await redis.start();
    await expect.poll(() => connections.at(-1)!.ready, { timeout: 15_000 }).toBe(true);
    // A fresh Redis: the shared bucket starts full again.
    expect((await sut.charge('client-3', 10)).ok).toBe(true);
    expect((await sut.charge('client-3', 1)).ok).toBe(false);
    expect(await failures()).toBe(before + 12);
  });
});
