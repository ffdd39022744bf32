import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, BATCHES, expectEachOnce, jobRequests, parseNdjson, until } from './support/batch-jobs.js';
import { Cluster } from './support/cluster.js';
import { TEST_DATABASE_URL, uniqueSchema } from './support/cluster-env.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from './support/redis-server.js';

const N = 3000;

describe('Batch jobs on three replicas (PostgreSQL, BullMQ on Redis)', () => {
  const prefix = uniqueRedisPrefix('jobs-cluster');
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({
      replicas: 3,
      databaseUrl: TEST_DATABASE_URL,
      schema: uniqueSchema('jobs_cluster'),
      redisUrl: TEST_REDIS_URL,
      env: { REDIS_KEY_PREFIX: prefix, SHUTDOWN_DELAY_MS: '0', BATCH_JOB_RECONCILE_INTERVAL_MS: '2000' },
      readyTimeoutMs: 120_000,
    });
  }, 240_000);
  afterAll(async () => {
    await cluster?.close();
    await deleteRedisKeys(prefix);
  });

  it('ten concurrent POST /batches with one Idempotency-Key, spread over the replicas: one batch; another body: 422', async () => {
    const key = `key-${Date.now()}`;
    const body = { requests: jobRequests(20) };
    const answers = await Promise.all(Array.from({ length: 10 }, () => api(cluster.url, BATCHES, { body, headers: { 'idempotency-key': key } })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(202));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    const other = await api(cluster.url, BATCHES, { body: { requests: jobRequests(21) }, headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
    expect(other.body.error).toBe('validation_failed');
    const listed = await api(cluster.url, `${BATCHES}?limit=100`);
    expect(listed.body.data.filter((b: { request_counts: { total: number } }) => b.request_counts.total === 20)).toHaveLength(1);
  }, 60_000);

  it('a replica killed with SIGKILL mid-batch: its chunks are taken over, every custom_id ends exactly once', async () => {
    const created = await api(cluster.url, BATCHES, { body: { requests: jobRequests(N) } });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    await until(
      async () => (await api(cluster.url, `${BATCHES}/${id}`)).body.request_counts,
      (c) => c.succeeded >= 300,
      120_000,
    );
    await cluster.kill(1);
    const done = await until(
      async () => (await api(cluster.url, `${BATCHES}/${id}`)).body,
      (b) => b.status === 'ended',
      180_000,
      250,
    );
    expect(done.request_counts.total).toBe(N);
    expect(done.request_counts.succeeded + done.request_counts.errored).toBe(N);
    expectEachOnce(parseNdjson((await api(cluster.url, `${BATCHES}/${id}/results`)).text), N);
    await cluster.restart(1);
  }, 300_000);
});
