import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../src/common/redis/redis-connection.js';
import { redisFailures } from '../src/common/redis/redis.metrics.js';
import { freePort } from './support/free-port.js';
import { OwnRedisServer, uniqueRedisPrefix } from './support/redis-server.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const API = '/api/v14/lazy';
/** Guards against a hang only: every request here answers at once when the service is right. */
const HANG_GUARD_MS = 10_000;

const failuresOf = async (feature: string) => (await redisFailures.get()).values.find((v) => v.labels.feature === feature)?.value ?? 0;
const cacheFailures = () => failuresOf('cache');

/** Reads and writes that touch the cache tier and the history; all must answer while Redis is down. */
let round = 0;
async function serves(t: TestApp): Promise<void> {
  const http = () => request(t.app.getHttpServer());
  // A user of its own each round: the history count is a new key, not one the memory tier holds.
  const user = `redis-down-${++round}`;
  const caption = await http().post(`${API}/captions`).send({ content_description: 'a quiet beach at dawn', user_id: user }).timeout(HANG_GUARD_MS);
  expect(caption.status).toBe(200);
  // A range that starts at the row itself, inside its day (never at the day's first millisecond
  // but by a one-in-86-million chance): that day's rows in it are counted once and kept in the
  // keyed cache. A range from "an hour ago" covers the row's whole day in the first hour after
  // midnight UTC, which is answered from the day's bucket and never reaches the keyed cache.
  const own = await http().get(`${API}/caption-history?page=1&page_size=1&user_id=${user}`).timeout(HANG_GUARD_MS);
  expect(own.status).toBe(200);
  const from = own.body.data[0].created_at as string;
  const history = await http().get(`${API}/caption-history?page=1&page_size=5&user_id=${user}&date_from=${from}`).timeout(HANG_GUARD_MS);
  expect(history.status).toBe(200);
  expect(history.body.pagination.total_items).toBeGreaterThan(0);
  const plain = await http().post(`${API}/batch-process`).send({ requests: [{ content_description: 'a quiet beach', user_id: user }] }).timeout(HANG_GUARD_MS);
  expect(plain.status).toBe(200);
  const ready = await http().get(`${API}/health/ready`).timeout(HANG_GUARD_MS);
  // Redis holds shared state only: its loss degrades the service, it does not take replicas out.
  expect(ready.status).toBe(200);
}

describe('A shared Redis that goes down', () => {
  const redis = new OwnRedisServer();
  let t: TestApp;

  beforeAll(async () => {
    await redis.start();
    t = await createTestApp({ env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: uniqueRedisPrefix('redis-down') } });
  });
  afterAll(async () => {
    await t?.close();
    await redis.close();
  });

  it('serves captions and history from the process while Redis is down, and uses Redis again once it is back', async () => {
    const connection = t.app.get(RedisConnection);
    expect(connection.ready).toBe(true);
    await serves(t);

    await redis.stop();
    await expect.poll(() => connection.ready).toBe(false);
    // Readiness stays 200 and says Redis is degraded, rather than hiding it.
    const degraded = await request(t.app.getHttpServer()).get(`${API}/health/ready`).timeout(HANG_GUARD_MS);
    expect(degraded.status).toBe(200);
    expect(degraded.body.details.redis).toMatchObject({ status: 'degraded', message: expect.stringContaining('fall back') });
    const before = await cacheFailures();
    const limitedBefore = await failuresOf('rate_limit');
    await serves(t);
    // The range's count of its first day went to the Redis tier and came back a counted miss; the rate limit fell back to the process.
    expect(await cacheFailures()).toBeGreaterThan(before);
    expect(await failuresOf('rate_limit')).toBeGreaterThan(limitedBefore);
    // A claim that cannot be checked is refused at once, never guessed.
    const keyed = await request(t.app.getHttpServer())
      .post(`${API}/batch-process`)
      .set('idempotency-key', 'while-redis-is-down')
      .send({ requests: [{ content_description: 'a quiet beach' }] })
      .timeout(HANG_GUARD_MS);
    expect(keyed.status).toBe(503);
    expect(keyed.body).toMatchObject({ error: 'idempotency_unavailable' });

    await redis.start();
    await expect.poll(() => connection.ready, { timeout: 15_000 }).toBe(true);
    expect((await request(t.app.getHttpServer()).get(`${API}/health/ready`).timeout(HANG_GUARD_MS)).body.details.redis).toEqual({ status: 'up' });
    const after = await cacheFailures();
    await serves(t);
    expect(await cacheFailures()).toBe(after);
  });
});

describe('A shared Redis that is down from the start', () => {
  it('starts and serves without it', async () => {
    const port = await freePort();
    const t = await createTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CONNECT_TIMEOUT_MS: '200' } });
    try {
      expect(t.app.get(RedisConnection).ready).toBe(false);
      await serves(t);
    } finally {
      await t.close();
    }
  });
});
