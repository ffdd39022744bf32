import { sql } from 'kysely';
import request from 'supertest';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HISTORY_DATABASE, type HistoryDatabaseHandle } from '../src/history/history-database.js';
import { BATCHES, jobRequests, ndjson, parseNdjson, until } from './support/batch-jobs.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('Batch jobs (POST /batches and its reads)', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  let db: HistoryDatabaseHandle;

  beforeAll(async () => {
    t = await createTestApp({ env: { BATCH_JOB_MAX_ITEMS: '50', BATCH_NDJSON_MAX_BYTES: '20000' } });
    http = request(t.app.getHttpServer());
    db = t.app.get(HISTORY_DATABASE);
  });
  afterAll(async () => t.close());

  const ended = (id: string) =>
    until(
      async () => (await http.get(`${BATCHES}/${id}`).expect(200)).body,
      (b) => b.status === 'ended',
    );
  const results = async (id: string) => parseNdjson((await http.get(`${BATCHES}/${id}/results`).expect(200)).text);
  const historyCount = async () => Number((await db.db.selectFrom('caption_history').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const count = async (table: string) => Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db.db)).rows[0]!.n);
  const stored = async () => ({ batches: await count('batches'), items: await count('batch_items') });

  it('runs a JSON batch to its end: 202, every item once in input order, history rows once each', async () => {
    const before = await historyCount();
    const res = await http
      .post(BATCHES)
      .send({ requests: jobRequests(30, { variation_count: 2 }), metadata: { team: 'growth' } })
      .expect(202);
    expect(res.body).toMatchObject({ object: 'batch', status: expect.stringMatching(/in_progress|ended/), metadata: { team: 'growth' } });
    expect(res.body.request_counts.total).toBe(30);
    expect(res.body.results_url).toMatch(new RegExp(`/api/v14/lazy/batches/${res.body.id}/results$`));
    const done = await ended(res.body.id);
    expect(done.request_counts).toEqual({ total: 30, processing: 0, succeeded: 30, errored: 0, canceled: 0, expired: 0 });
    expect(done.ended_at).not.toBeNull();
    const lines = await results(res.body.id);
    expect(lines.map((l) => l.custom_id)).toEqual(jobRequests(30).map((r) => r.custom_id));
    for (const l of lines) {
      expect(l.result.type).toBe('succeeded');
      expect(l.result.response.variations).toHaveLength(2);
    }
    expect((await historyCount()) - before).toBe(60);
  });

  it('ends a bad line `errored` with the error body, and runs the rest (NDJSON, gzip)', async () => {
    const body = ndjson([
      ...jobRequests(2),
      '{not json',
      { content_description: 'no custom id' },
      { custom_id: 'bad style', content_description: 'x' },
      { custom_id: 'item-style', content_description: 'A walk', style: 'nonsense' },
      { custom_id: 'item-unknown', content_description: 'A walk', colour: 'red' },
    ]);
    const res = await http
      .post(BATCHES)
      .set('content-type', 'application/x-ndjson')
      .set('content-encoding', 'gzip')
      .send(gzipSync(body))
      .expect(202);
    const done = await ended(res.body.id);
    expect(done.request_counts).toMatchObject({ total: 7, succeeded: 2, errored: 5, processing: 0 });
    const lines = await results(res.body.id);
    expect(lines.map((l) => l.custom_id)).toEqual(['item-0', 'item-1', null, null, null, 'item-style', 'item-unknown']);
    expect(lines[2]!.result).toMatchObject({ type: 'errored', error: { error: 'malformed_json', message: expect.any(String), timestamp: expect.any(Number) } });
    expect(lines[4]!.result.error.details).toEqual([{ field: 'custom_id', message: expect.any(String) }]);
    expect(lines[5]!.result.error).toMatchObject({ error: 'validation_failed', details: [expect.objectContaining({ field: 'style' })] });
    expect(lines[6]!.result.error.error).toBe('validation_failed');
    expect(lines[6]!.result.error.request_id).toBe(res.headers['x-request-id']);
  });

  describe('refuses what is not a batch before storing anything', () => {
    const cases: Array<[string, (r: request.Test) => request.Test, number, string]> = [
      ['an empty upload', (r) => r.set('content-type', 'application/x-ndjson').send('\n\n'), 422, 'validation_failed'],
      ['an empty requests array', (r) => r.send({ requests: [] }), 422, 'validation_failed'],
      ['a duplicate custom_id (JSON)', (r) => r.send({ requests: [...jobRequests(3), ...jobRequests(1)] }), 422, 'validation_failed'],
      ['a duplicate custom_id (NDJSON)', (r) => r.set('content-type', 'application/x-ndjson').send(ndjson([...jobRequests(3), ...jobRequests(1, {}, 1)])), 422, 'validation_failed'],
      ['more items than BATCH_JOB_MAX_ITEMS (JSON)', (r) => r.send({ requests: jobRequests(51) }), 422, 'validation_failed'],
      ['more lines than BATCH_JOB_MAX_ITEMS (NDJSON)', (r) => r.set('content-type', 'application/x-ndjson').send(ndjson(jobRequests(51))), 413, 'payload_too_large'],
      ['an upload over its byte limit', (r) => r.set('content-type', 'application/x-ndjson').send(ndjson(jobRequests(40, { content_description: 'x'.repeat(900) }))), 413, 'payload_too_large'],
      ['a body that is neither JSON nor NDJSON', (r) => r.set('content-type', 'text/plain').send('hello'), 415, 'unsupported_media_type'],
      ['a corrupt gzip upload', (r) => r.set('content-type', 'application/x-ndjson').set('content-encoding', 'gzip').send(Buffer.from('not gzip at all')), 400, 'malformed_json'],
      ['an unknown top-level field', (r) => r.send({ requests: jobRequests(1), extra: 1 }), 422, 'validation_failed'],
      ['bad metadata', (r) => r.send({ requests: jobRequests(1), metadata: { n: 1 } }), 422, 'validation_failed'],
    ];
    it.each(cases)('%s', async (_name, send, status, code) => {
      const before = await stored();
      const res = await send(http.post(BATCHES));
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ error: code, message: expect.any(String), request_id: expect.any(String) });
      expect(await stored()).toEqual(before);
    });
  });

  it('names a duplicate custom_id by its position, a rule the document lists for the operation', async () => {
    const doc = (await http.get('/openapi.json').expect(200)).body;
    const rules = doc.paths[BATCHES].post['x-rules'] as Array<{ fields: string[] }>;
    expect(rules.flatMap((r) => r.fields)).toContain('requests.*.custom_id');
    // As the server refuses an unknown top-level field (above), so does the schema.
    expect(doc.components.schemas.CreateBatchRequest.additionalProperties).toBe(false);
    const json = await http.post(BATCHES).send({ requests: [...jobRequests(3), ...jobRequests(1, {}, 1)] }).expect(422);
    const lines = await http.post(BATCHES).set('content-type', 'application/x-ndjson').send(ndjson([...jobRequests(2), ...jobRequests(1)])).expect(422);
    expect(json.body.details).toEqual([{ field: 'requests.3.custom_id', message: expect.stringContaining('item 1') }]);
    expect(lines.body.details).toEqual([{ field: 'requests.2.custom_id', message: expect.stringContaining('item 0') }]);
  });

  it('lists newest first with an opaque cursor, and 404s an unknown batch', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await http.post(BATCHES).send({ requests: jobRequests(1) }).expect(202)).body.id);
    const first = (await http.get(`${BATCHES}?limit=2`).expect(200)).body;
    expect(first.data.map((b: { id: string }) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.has_more).toBe(true);
    const second = (await http.get(`${BATCHES}?limit=2&cursor=${first.next_cursor}`).expect(200)).body;
    expect(second.data[0].id).toBe(ids[0]);
    await http.get(`${BATCHES}?cursor=garbage`).expect(422);
    await http.get(`${BATCHES}/batch_nope`).expect(404);
    await http.get(`${BATCHES}/..%2Fetc`).expect(404);
  });

  it('answers 409 for results before the end, and for cancelling an ended batch', async () => {
    const { body } = await http.post(BATCHES).send({ requests: jobRequests(1) }).expect(202);
    await ended(body.id);
    await http.post(`${BATCHES}/${body.id}/cancel`).expect(409);
  });

  it('streams progress as SSE and ends with `ended`', async () => {
    const { body } = await http.post(BATCHES).send({ requests: jobRequests(20) }).expect(202);
    const res = await http.get(`${BATCHES}/${body.id}/events`).set('accept', 'text/event-stream').expect(200);
    const events = [...res.text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({ event: m[1], data: JSON.parse(m[2]!) }));
    expect(events.at(-1)).toMatchObject({ event: 'ended', data: { id: body.id, status: 'ended', request_counts: { total: 20, succeeded: 20 } } });
    expect(events.slice(0, -1).every((e) => e.event === 'progress')).toBe(true);
  });
});
