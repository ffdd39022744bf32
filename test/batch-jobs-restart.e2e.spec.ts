import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHistoryDatabase } from '../src/history/history-database.js';
import { Cluster } from './support/cluster.js';
import { api, BATCHES, expectEachOnce, jobRequests, parseNdjson, until } from './support/batch-jobs.js';
import { join } from 'node:path';

const N = 3000;

describe('Batch jobs on the embedded default (SQLite, in-process runner)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    // One replica, no DATABASE_URL and no Redis: its own SQLite under its DATA_DIR, the in-process runner.
    cluster = await Cluster.start({ replicas: 1, env: { BATCH_JOB_CONCURRENCY: '2' } });
  }, 120_000);
  afterAll(async () => cluster?.close());

  it('resumes a batch after the process is killed mid-batch: every custom_id once, history rows once', async () => {
    const base = cluster.replicas[0]!.url;
    const created = await api(base, BATCHES, { body: { requests: jobRequests(N) } });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    // Killed once some items have ended, and well before all have.
    await until(
      async () => (await api(base, `${BATCHES}/${id}`)).body.request_counts,
      (c) => c.succeeded >= 200,
    );
    await cluster.kill(0);
    await cluster.restart(0);
    const after = (await api(base, `${BATCHES}/${id}`)).body;
    expect(after.request_counts.succeeded).toBeLessThan(N);
    const done = await until(
      async () => (await api(base, `${BATCHES}/${id}`)).body,
      (b) => b.status === 'ended',
      120_000,
      200,
    );
    expect(done.request_counts).toEqual({ total: N, processing: 0, succeeded: N, errored: 0, canceled: 0, expired: 0 });
    const results = await api(base, `${BATCHES}/${id}/results`);
    expectEachOnce(parseNdjson(results.text), N);
    await cluster.stop(0);
    // One variation per item: exactly N rows, whatever was drafted twice across the kill.
    const handle = openHistoryDatabase(`sqlite:${join(cluster.replicas[0]!.dataDir, 'history.sqlite')}`);
    try {
      const { n } = await handle.db.selectFrom('caption_history').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      expect(Number(n)).toBe(N);
    } finally {
      await handle.destroy();
    }
  }, 240_000);
});
