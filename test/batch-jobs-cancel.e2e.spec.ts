import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CaptionsService } from '../src/captions/captions.service.js';
import { BATCHES, jobRequests, parseNdjson, until } from './support/batch-jobs.js';
import { Gate } from './support/gate.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('Cancelling a batch job mid-batch', () => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  // The first 30 drafts go through; later ones wait until the spec opens the gate.
  const gate = new Gate(30);

  beforeAll(async () => {
    t = await createTestApp({ env: { BATCH_JOB_CONCURRENCY: '4' } });
    http = request(t.app.getHttpServer());
    const captions = t.app.get(CaptionsService);
    const generate = captions.generate.bind(captions);
    vi.spyOn(captions, 'generate').mockImplementation(async (...args) => {
      await gate.pass();
      return generate(...args);
    });
  });
  afterAll(async () => t.close());

  it('lets started items finish, ends the rest `canceled`, and the counts add up', async () => {
    const { body } = await http.post(BATCHES).send({ requests: jobRequests(200) }).expect(202);
    // Slices of 4, 8, 16 and 25 items (0-3, 4-11, 12-27, 28-52): the first three are done, the
    // fourth started with items 28 and 29 drafted and four drafts (30-33) held.
    await until(async () => gate.held, (held) => held === 4);
    const canceling = (await http.post(`${BATCHES}/${body.id}/cancel`).expect(200)).body;
    expect(canceling.status).toBe('canceling');
    expect(canceling.cancel_initiated_at).not.toBeNull();
    gate.open();
    const done = await until(
      async () => (await http.get(`${BATCHES}/${body.id}`).expect(200)).body,
      (b) => b.status === 'ended',
    );
    expect(done.request_counts).toEqual({ total: 200, processing: 0, succeeded: 53, errored: 0, canceled: 147, expired: 0 });
    const lines = parseNdjson((await http.get(`${BATCHES}/${body.id}/results`).expect(200)).text);
    expect(lines.map((l) => l.result.type)).toEqual([...Array(53).fill('succeeded'), ...Array(147).fill('canceled')]);
    await http.post(`${BATCHES}/${body.id}/cancel`).expect(409);
  });
});
