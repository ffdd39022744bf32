import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { TEST_DATABASE_URL, uniqueSchema } from './support/cluster-env.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from './support/redis-server.js';

const API = '/api/v14/lazy';

const batch = (n: number, tag: string, user: string) => ({
  requests: Array.from({ length: n }, (_, i) => ({
    content_description: `Ceramic mug ${tag} number ${i}, glazed in ocean blue`,
    variation_count: 1,
    request_id: `${tag}-${i}`,
    user_id: user,
  })),
});

async function postBatch(base: string, body: unknown, key: string) {
  const res = await fetch(`${base}${API}/batch-process`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, accept: 'application/x-ndjson' },
    body: JSON.stringify(body),
  });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', text: await res.text() };
}

/** Rows the history holds for `user`, read through `base`. */
async function historyRows(base: string, user: string): Promise<number> {
  const res = await fetch(`${base}${API}/caption-history?page=1&page_size=1&user_id=${user}`);
  return ((await res.json()) as { pagination: { total_items: number } }).pagination.total_items;
}

/**
 * Starts a batch on `base` and reads only its first bytes, then leaves the response unread:
 * backpressure keeps the batch running (and its key claimed) for as long as nobody reads.
 */
function startStalledBatch(base: string, body: unknown, key: string): Promise<IncomingMessage> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${API}/batch-process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'idempotency-key': key, accept: 'application/x-ndjson' },
    });
    req.on('response', (res) => {
      res.once('data', () => {
        res.pause();
        resolve(res);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Shared behaviour of a cluster: idempotency across two replicas. */
function idempotencyAcrossReplicas(name: string, options: { redis: boolean }) {
  describe(`Idempotency-Key across two replicas on PostgreSQL, ${name}`, () => {
    const prefix = uniqueRedisPrefix('idempotency-cluster');
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await Cluster.start({
        replicas: 2,
        databaseUrl: TEST_DATABASE_URL,
        schema: uniqueSchema(options.redis ? 'idem_redis' : 'idem_db'),
        redisUrl: options.redis ? TEST_REDIS_URL : undefined,
        env: { REDIS_KEY_PREFIX: prefix, RATE_LIMIT_MAX: '0', BATCH_MAX_REQUESTS: '20000', BATCH_IDEMPOTENCY_LEASE_MS: '2000', BODY_LIMIT_BYTES: String(8 * 1024 * 1024) },
      });
    });
    afterAll(async () => {
      await cluster?.close();
      if (options.redis) await deleteRedisKeys(prefix);
    });

    it('replays on one replica what ran on the other, and refuses another body under that key with 422', async () => {
      const [a, b] = cluster.replicas.map((r) => r.url) as [string, string];
      const user = `idem-${Date.now()}`;
      const first = await postBatch(a, batch(3, 'first', user), `order-${user}`);
      expect(first).toMatchObject({ status: 200, replayed: false });
      const again = await postBatch(b, batch(3, 'first', user), `order-${user}`);
      expect(again).toMatchObject({ status: 200, replayed: true, text: first.text });
      const other = await postBatch(b, batch(3, 'other', user), `order-${user}`);
      expect(other.status).toBe(422);
      expect(await historyRows(b, user)).toBe(3);
    });

    it('runs concurrent requests with one key once: the others are 409 or a replay', async () => {
      const user = `idem-race-${Date.now()}`;
      const body = batch(50, 'race', user);
      const answers = await Promise.all(cluster.replicas.flatMap((r) => [postBatch(r.url, body, `race-${user}`), postBatch(r.url, body, `race-${user}`)]));
      const ran = answers.filter((x) => x.status === 200 && !x.replayed);
      expect(ran).toHaveLength(1);
      for (const x of answers) expect(x.status === 409 || (x.status === 200 && (x === ran[0] || x.replayed))).toBe(true);
      expect(await historyRows(cluster.url, user)).toBe(50);
    });

    // Last: it leaves replica 0 dead.
    it('frees the key of a replica killed mid-batch (kill -9) within the lease: the other replica then runs it', async () => {
      const user = `idem-kill-${Date.now()}`;
      const body = batch(10_000, 'kill', user);
      const key = `kill-${user}`;
      const stalled = await startStalledBatch(cluster.replicas[0]!.url, body, key);
      const survivor = cluster.replicas[1]!.url;
      expect((await postBatch(survivor, body, key)).status).toBe(409);
      await cluster.kill(0);
      stalled.destroy();
      // The lease is 2 s; the key's TTL is a day: the claim must pass long before that.
      await expect.poll(async () => (await postBatch(survivor, batch(1, 'probe', `${user}-probe`), key)).status, { timeout: 20_000, interval: 250 }).toBe(200);
    });
  });
}

idempotencyAcrossReplicas('without Redis (claims in the database)', { redis: false });
idempotencyAcrossReplicas('with Redis', { redis: true });

describe('The rate limit across three replicas sharing Redis', () => {
  const prefix = uniqueRedisPrefix('rate-cluster');
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({
      replicas: 3,
      databaseUrl: TEST_DATABASE_URL,
      schema: uniqueSchema('rate'),
      redisUrl: TEST_REDIS_URL,
      // An hour's window: nothing refills while the spec runs, so the count is exact.
      env: { REDIS_KEY_PREFIX: prefix, RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW_MS: '3600000' },
    });
  });
  afterAll(async () => {
    await cluster?.close();
    await deleteRedisKeys(prefix);
  });

  it('allows the configured number of requests in a window in all, not that many per replica', async () => {
    const answers: Array<{ status: number; replica: string | null }> = [];
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${cluster.url}${API}/stats`);
      await res.arrayBuffer();
      answers.push({ status: res.status, replica: res.headers.get('x-cluster-replica') });
    }
    expect(new Set(answers.map((a) => a.replica))).toEqual(new Set(['0', '1', '2']));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(20);
  });
});
