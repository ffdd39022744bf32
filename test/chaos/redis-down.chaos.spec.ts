import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { API, figure, timed, until, Watcher, type Outcome } from '../support/chaos.js';
import { Cluster } from '../support/cluster.js';
import { OwnRedisServer, uniqueRedisPrefix } from '../support/redis-server.js';

/** The service's own bound on one Redis command (REDIS_COMMAND_TIMEOUT_MS), set low so a wait on Redis shows. */
const REDIS_TIMEOUT_MS = 300;
/** What a request may take while Redis is down: the Redis timeout plus the request's own work, with room for a busy 2-core machine. */
const SERVED_WITHIN_MS = REDIS_TIMEOUT_MS + 1_200;
/**
 * The first caption a fresh server drafts also loads the language libraries (1.3 s here with Redis
 * up, 1.55-1.63 s with it down): a one-off cost of the engine, bounded apart, so that the bound
 * above stays about Redis.
 */
const FIRST_CAPTION_WITHIN_MS = REDIS_TIMEOUT_MS + 4_000;
const ITEMS = 1_500;

const env = (name: string) => ({
  RATE_LIMIT_MAX: '1000000',
  REDIS_KEY_PREFIX: uniqueRedisPrefix(name),
  REDIS_COMMAND_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
  REDIS_CONNECT_TIMEOUT_MS: '300',
});

/** `redis_failures_total` by feature, read from `/metrics`. */
async function redisFailures(base: string): Promise<Record<string, number>> {
  const res = await fetch(`${base}/metrics`);
  const out: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(/^redis_failures_total\{feature="([a-z_]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/**
 * A range start an hour back, but never before today's first millisecond UTC: a range that covers
 * the row's whole day is counted from its bucket and never reaches the cache tier (or Redis).
 */
const withinToday = () => new Date(Math.max(Date.now() - 3_600_000, Math.floor(Date.now() / 86_400_000) * 86_400_000 + 1));

/** The requests a client makes all day, each timed: captions, a history page, a streamed batch, readiness. */
async function everyday(base: string, tag: string): Promise<Outcome[]> {
  const user = `chaos-redis-${tag}`;
  return [
    await timed(`${base}${API}/captions`, { method: 'POST', body: { content_description: `a quiet beach at dawn, ${tag}`, user_id: user } }),
    await timed(`${base}${API}/caption-history?page=1&page_size=5&user_id=${user}&date_from=${withinToday().toISOString()}`),
    await timed(`${base}${API}/batch-process`, { method: 'POST', body: { requests: [{ content_description: `a quiet beach, ${tag}`, user_id: user }] } }),
    await timed(`${base}${API}/health/ready`),
  ];
}

describe('Redis down', () => {
  const redis = new OwnRedisServer();
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });
  afterAll(() => redis.close());

  it('from the start: the service starts, serves within the Redis timeout, reports Redis degraded (200), and uses Redis once it comes', async () => {
    // A port with nothing on it yet; Redis is started there later.
    await redis.start();
    await redis.stop();
    cluster = await Cluster.start({ replicas: 1, redisUrl: redis.url, env: env('chaos-start') });
    const base = cluster.replicas[0]!.url;

    const first = await timed(`${base}${API}/captions`, { method: 'POST', body: { content_description: 'a quiet beach at dawn, first', user_id: 'chaos-redis-first' } });
    figure('redis down at start: first caption, the engine loading (ms)', first.ms);
    expect(first.status).toBe(200);
    expect(first.ms).toBeLessThan(FIRST_CAPTION_WITHIN_MS);
    const before = await redisFailures(base);
    const served = [...(await everyday(base, 'start-1')), ...(await everyday(base, 'start-2'))];
    figure('redis down at start: slowest request (ms)', Math.max(...served.map((o) => o.ms)));
    expect(served.map((o) => o.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200]);
    for (const o of served) expect(o.ms).toBeLessThan(SERVED_WITHIN_MS);
    const ready = served[3]!.body as { status: string; details: Record<string, { status: string }> };
    expect(ready).toMatchObject({ status: 'ok', details: { redis: { status: 'degraded' }, database: { status: 'up' } } });
    // The fallbacks are counted: the rate limit fell back to the process on every request.
    const after = await redisFailures(base);
    figure('redis down at start: fallbacks counted', { rate_limit: (after.rate_limit ?? 0) - (before.rate_limit ?? 0), cache: (after.cache ?? 0) - (before.cache ?? 0) });
    expect(after.rate_limit ?? 0).toBeGreaterThan(before.rate_limit ?? 0);

    await redis.start();
    const upAt = Date.now();
    const reconnected = await until('readiness reports Redis up', async () => {
      const r = await timed(`${base}${API}/health/ready`);
      return (r.body as { details?: { redis?: { status?: string } } }).details?.redis?.status === 'up';
    }, 15_000);
    figure('redis down at start: Redis up in readiness after it started (ms)', reconnected);
    const settled = await redisFailures(base);
    expect((await everyday(base, 'start-3')).map((o) => o.status)).toEqual([200, 200, 200, 200]);
    expect((await redisFailures(base)).rate_limit ?? 0).toBe(settled.rate_limit ?? 0);
    expect(Date.now() - upAt).toBeLessThan(30_000);
  });

  it('mid-run: requests keep their pace, readiness stays 200 (Redis degraded), and a batch job pauses and completes with every item once', async () => {
    await redis.start();
    cluster = await Cluster.start({ replicas: 1, redisUrl: redis.url, env: env('chaos-mid') });
    const base = cluster.replicas[0]!.url;
    const readiness = new Watcher(`${base}${API}/health/ready`);

    const requests = Array.from({ length: ITEMS }, (_, i) => ({ custom_id: `item-${i}`, content_description: `a harbour at dusk, view ${i}`, user_id: 'chaos-batch', variation_count: 1 }));
    const created = await timed(`${base}${API}/batches`, { method: 'POST', body: { requests } }, 60_000);
    expect(created.status).toBe(202);
    const id = (created.body as { id: string }).id;
    const counts = async () => ((await timed(`${base}${API}/batches/${id}`)).body as { status: string; request_counts: { succeeded: number; total: number } });
    await until('the batch under way', async () => (await counts()).request_counts.succeeded > 0, 60_000);

    await redis.stop();
    const downAt = Date.now();
    const atKill = (await counts()).request_counts.succeeded;
    // While Redis is down: the everyday requests, and a new batch (stored, queued once Redis is back).
    const during: Outcome[] = [];
    for (let round = 0; Date.now() - downAt < 5_000; round++) during.push(...(await everyday(base, `mid-${round}`)));
    const second = await timed(`${base}${API}/batches`, { method: 'POST', body: { requests: requests.slice(0, 10).map((r) => ({ ...r, user_id: 'chaos-batch-2' })) } });
    const duringDown = (await counts()).request_counts.succeeded;
    figure('redis mid-run: everyday requests while down', during.length);
    figure('redis mid-run: slowest request while down (ms)', Math.max(...during.map((o) => o.ms), second.ms));
    expect(during.filter((o) => o.status !== 200)).toEqual([]);
    for (const o of [...during, second]) expect(o.ms).toBeLessThan(SERVED_WITHIN_MS);
    expect(second.status).toBe(202);

    await redis.start();
    const upAt = Date.now();
    // The queue of a Redis without persistence comes back empty: the runner queues the batches with
    // items left as soon as Redis is back, not at the reconciler's next run (30 s).
    const resumed = await until('the batch moving again', async () => (await counts()).request_counts.succeeded > duringDown, 10_000);
    figure('redis mid-run: batch moving again after Redis came back (ms)', resumed);
    const finished = await until('both batches ended', async () => {
      const [a, b] = await Promise.all([counts(), timed(`${base}${API}/batches/${(second.body as { id: string }).id}`)]);
      return a.status === 'ended' && (b.body as { status: string }).status === 'ended';
    }, 90_000);
    await readiness.stop();
    figure('redis mid-run: items done at kill / while down / total', `${atKill} / ${duringDown} / ${ITEMS}`);
    figure('redis mid-run: both batches ended after Redis came back (ms)', finished);

    // Readiness never failed; it said degraded while Redis was down.
    expect(readiness.outcomes.filter((o) => o.status !== 200)).toEqual([]);
    const whileDown = readiness.outcomes.filter((o) => o.sentAt > downAt + 1_000 && o.sentAt < upAt);
    expect(whileDown.length).toBeGreaterThan(0);
    for (const o of whileDown) expect((o.body as { details: { redis: { status: string } } }).details.redis.status).toBe('degraded');

    // Every item once, succeeded; every caption in the history once.
    const results = await timed(`${base}${API}/batches/${id}/results`, {}, 60_000);
    const lines = (results.body as string).trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; result: { type: string; response?: { request_id: string } } });
    expect(lines.map((l) => l.custom_id)).toEqual(requests.map((r) => r.custom_id));
    expect(lines.filter((l) => l.result.type !== 'succeeded')).toEqual([]);
    const exported = await timed(`${base}${API}/caption-history/export?format=json&user_id=chaos-batch`, {}, 60_000);
    const rows = exported.body as Array<{ request_id: string }>;
    expect(rows.length).toBe(ITEMS);
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(ITEMS);
    expect(new Set(lines.map((l) => l.result.response!.request_id))).toEqual(new Set(rows.map((r) => r.request_id)));
  });
});
