import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCHES, jobRequests, ndjson } from './support/batch-jobs.js';
import { TEST_DATABASE_URL, uniqueSchema } from './support/cluster-env.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** SQLite (the default) and PostgreSQL, each in a schema of its own. */
const engines = [
  { name: 'sqlite', env: async () => ({}), drop: async () => undefined },
  {
    name: 'postgres',
    schema: uniqueSchema('jobs_idem'),
    async env(this: { schema: string }) {
      const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
      await admin.query(`create schema "${this.schema}"`);
      await admin.end();
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set('options', `-c search_path=${this.schema}`);
      return { DATABASE_URL: url.toString() };
    },
    async drop(this: { schema: string }) {
      const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
      await admin.query(`drop schema if exists "${this.schema}" cascade`);
      await admin.end();
    },
  },
];

describe.each(engines)('POST /batches with an Idempotency-Key on $name (one process)', (engine) => {
  let t: TestApp;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    t = await createTestApp({ env: { ...(await engine.env.call(engine as never)), LOG_LEVEL: 'error' } });
    http = request(t.app.getHttpServer());
  });
  afterAll(async () => {
    await t?.close();
    await engine.drop.call(engine as never);
  });

  it('ten concurrent requests with one key make one batch; the same key with another body is a 422', async () => {
    const key = `k-${Date.now()}`;
    const body = { requests: jobRequests(30) };
    const answers = await Promise.all(Array.from({ length: 10 }, () => http.post(BATCHES).set('idempotency-key', key).send(body)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(202));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true').length).toBe(9);
    const other = await http.post(BATCHES).set('idempotency-key', key).send({ requests: jobRequests(31) });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ error: 'validation_failed', details: [{ field: 'Idempotency-Key' }] });
    const listed = (await http.get(`${BATCHES}?limit=100`).expect(200)).body.data as Array<{ id: string }>;
    expect(listed.filter((b) => b.id === answers[0]!.body.id)).toHaveLength(1);
    expect(listed).toHaveLength(1);
  });

  it('holds for NDJSON uploads too (the fingerprint is of the bytes sent)', async () => {
    const key = `u-${Date.now()}`;
    const upload = ndjson(jobRequests(5));
    const send = (text: string) => http.post(BATCHES).set('idempotency-key', key).set('content-type', 'application/x-ndjson').send(text);
    const answers = await Promise.all(Array.from({ length: 5 }, () => send(upload)));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect((await send(ndjson(jobRequests(6)))).status).toBe(422);
  });
});
