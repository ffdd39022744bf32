import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deleteRedisKeys, uniqueRedisPrefix } from './support/redis-server.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const P = '/api/v14/lazy';
const batch = (n: number, tag: string) => ({
  requests: Array.from({ length: n }, (_, i) => ({ content_description: `Ceramic mug ${tag} number ${i}, glazed in ocean blue`, variation_count: 1, request_id: `${tag}-${i}` })),
});

function postBatch(t: TestApp, body: unknown, headers: Record<string, string>) {
  return request(t.app.getHttpServer()).post(`${P}/batch-process`).set(headers).send(body as object);
}

describe('Idempotency-Key records (e2e)', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('replays a finished batch after 1,005 unrelated writes to the keyed cache', async () => {
    // The keyed cache holds LAZY_CACHE_SIZE (1000) entries; idempotency records are not among them.
    t = await createTestApp();
    const body = batch(3, 'evict');
    const first = await postBatch(t, body, { 'idempotency-key': 'survives' }).expect(200);
    const cache = t.app.get<Cache>(CACHE_MANAGER);
    for (let i = 0; i < 1005; i++) await cache.set(`history:count:unrelated-${i}`, i);
    const again = await postBatch(t, body, { 'idempotency-key': 'survives' }).expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('keeps only the fingerprint of results over BATCH_IDEMPOTENCY_MAX_RECORD_KB: 409 for the same body, 422 for another', async () => {
    t = await createTestApp({ env: { BATCH_IDEMPOTENCY_MAX_RECORD_KB: '1' } });
    const body = batch(20, 'large');
    await postBatch(t, body, { 'idempotency-key': 'large' }).expect(200);
    const same = await postBatch(t, body, { 'idempotency-key': 'large' }).expect(409);
    expect(same.body).toMatchObject({ error: 'conflict', details: [{ field: 'Idempotency-Key', message: 'results too large to replay' }] });
    await postBatch(t, batch(2, 'other'), { 'idempotency-key': 'large' }).expect(422);
  });

  it('answers 503 with Retry-After when the byte budget has no room for one more record, and still replays the kept one', async () => {
    // One reservation (the per-record cap) is the whole budget.
    t = await createTestApp({ env: { BATCH_IDEMPOTENCY_MAX_MB: '1', BATCH_IDEMPOTENCY_MAX_RECORD_KB: '1024' } });
    const body = batch(2, 'kept');
    await postBatch(t, body, { 'idempotency-key': 'kept' }).expect(200);
    const full = await postBatch(t, batch(2, 'refused'), { 'idempotency-key': 'refused' }).expect(503);
    expect(full.body).toMatchObject({ error: 'idempotency_unavailable' });
    expect(Number(full.headers['retry-after'])).toBeGreaterThan(86_000);
    const replay = await postBatch(t, body, { 'idempotency-key': 'kept' }).expect(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    // Without a key the batch still runs.
    await postBatch(t, batch(2, 'refused'), {}).expect(200);
  });
});

describe('Idempotency-Key per API key (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { API_KEYS: 'key-alice,key-bob' } });
  });
  afterAll(async () => t.close());

  it('keeps the same key under two API keys apart: neither replays nor blocks the other', async () => {
    const alice = { 'x-api-key': 'key-alice', 'idempotency-key': 'order-1' };
    const bob = { 'x-api-key': 'key-bob', 'idempotency-key': 'order-1' };
    const aliceFirst = await postBatch(t, batch(2, 'alice'), alice).expect(200);
    const bobFirst = await postBatch(t, batch(3, 'bob'), bob).expect(200);
    expect(bobFirst.headers['idempotent-replayed']).toBeUndefined();
    expect(bobFirst.body.at(-1)).toMatchObject({ total: 3 });
    const aliceAgain = await postBatch(t, batch(2, 'alice'), alice).expect(200);
    expect(aliceAgain.headers['idempotent-replayed']).toBe('true');
    expect(aliceAgain.body).toEqual(aliceFirst.body);
    const bobAgain = await postBatch(t, batch(3, 'bob'), bob).expect(200);
    expect(bobAgain.headers['idempotent-replayed']).toBe('true');
  });
});

const redisUrl = process.env.TEST_REDIS_URL;
if (!redisUrl) console.warn('\n*** SKIPPED: Idempotency-Key records shared through Redis (set TEST_REDIS_URL to run them) ***\n');

describe.skipIf(!redisUrl)('Idempotency-Key records in Redis (e2e)', () => {
  const prefix = uniqueRedisPrefix('batch-idempotency');
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

  it('replays on one instance a batch that finished on another', async () => {
    const key = { 'idempotency-key': `shared-${process.pid}-${Date.now()}` };
    const body = batch(2, 'shared');
    // The client connects in the background: the first claim may come before it is up.
    let first: request.Response | undefined;
    await expect.poll(async () => (first = await postBatch(a, body, key)).status).toBe(200);
    const again = await postBatch(b, body, key).expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first!.body);
    await postBatch(b, batch(1, 'other'), key).expect(422);
  });
});
