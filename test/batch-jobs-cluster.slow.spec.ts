import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, BATCHES, expectEachOnce, jobRequests, ndjson, parseNdjson, until } from './support/batch-jobs.js';
import { Cluster } from './support/cluster.js';
import { TEST_DATABASE_URL, uniqueSchema } from './support/cluster-env.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from './support/redis-server.js';

/** Items of the batch (JOBS_SLOW_ITEMS to try a smaller one by hand). */
const N = Number(process.env.JOBS_SLOW_ITEMS ?? 20_000);

describe(`A ${N}-item batch job on three replicas through a rolling update and a kill -9`, () => {
  const prefix = uniqueRedisPrefix('jobs-slow');
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({
      replicas: 3,
      databaseUrl: TEST_DATABASE_URL,
      schema: uniqueSchema('jobs_slow'),
      redisUrl: TEST_REDIS_URL,
      env: { REDIS_KEY_PREFIX: prefix, SHUTDOWN_DELAY_MS: '500', BATCH_JOB_RECONCILE_INTERVAL_MS: '5000' },
      readyTimeoutMs: 180_000,
    });
  }, 600_000);
  afterAll(async () => {
    await cluster?.close();
    await deleteRedisKeys(prefix);
  });

  const counts = async (id: string) => (await api(cluster.url, `${BATCHES}/${id}`)).body.request_counts as { succeeded: number; errored: number };
  /** Waits until `more` items ended since the last call. */
  async function progress(id: string, more: number): Promise<void> {
    const now = await counts(id);
    const target = now.succeeded + now.errored + more;
    await until(() => counts(id), (c) => c.succeeded + c.errored >= Math.min(target, N), 600_000, 500);
  }

  it('ends with every custom_id exactly once; failed items errored with a reason', async () => {
    const res = await fetch(`${cluster.url}${BATCHES}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: ndjson(jobRequests(N)),
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    const step = Math.max(1, Math.floor(N / 10));

    // Rolling update (maxUnavailable 0): a replacement starts and is ready first, then one old
    // replica gets SIGTERM (it hands its chunk back); one at a time, the others working meanwhile.
    const replacements: number[] = [];
    for (let i = 0; i < 3; i++) {
      await progress(id, step);
      replacements.push(await cluster.add());
      await cluster.stop(i);
    }
    // A replica dies without warning: its chunk is taken over once its lock lapses.
    await progress(id, step);
    await cluster.kill(replacements[2]!);

    const done = await until(
      async () => (await api(cluster.url, `${BATCHES}/${id}`)).body,
      (b) => b.status === 'ended',
      1_800_000,
      1000,
    );
    expect(done.request_counts.total).toBe(N);
    expect(done.request_counts.processing).toBe(0);
    expect(done.request_counts.succeeded + done.request_counts.errored).toBe(N);
    expectEachOnce(parseNdjson((await api(cluster.url, `${BATCHES}/${id}/results`)).text), N);
  }, 3_600_000);
});
