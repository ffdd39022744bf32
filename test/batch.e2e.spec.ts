import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BatchController } from '../src/batch/batch.controller.js';
import { IdempotencyStore } from '../src/batch/idempotency.store.js';
import { CaptionsService } from '../src/captions/captions.service.js';
import { TemplateCaptionEngine } from '../src/captions/engine/template-caption.engine.js';
import { batchItems } from '../src/batch/batch.metrics.js';
import { ResponseStream } from '../src/common/streaming/response-stream.js';
import type { operations, Schemas } from '@instagram-captions/client';
import { apiClient } from './support/api-client.js';
import { orFailAfter } from './support/export-clients.js';
import { Gate } from './support/gate.js';
import { createTestApp, type TestApp } from './support/test-app.js';

type Item = Record<string, unknown> & { index?: number; success?: boolean; request_id?: string | null };

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bound on waits for the server: generous, as the machine may be busy. */
const SETTLED = { timeout: 10_000 };

type BatchBody = Schemas['BatchCaptionRequest'];
type BatchQuery = NonNullable<operations['processBatch']['parameters']['query']>;

const captionRequest = (i: number, extra: Partial<Schemas['CaptionGenerationRequest']> = {}): Schemas['CaptionGenerationRequest'] => ({
  content_description: `Handmade ceramic mug number ${i}, glazed in ocean blue`,
  style: 'casual',
  hashtag_count: 5,
  variation_count: 1,
  request_id: `req-${i}`,
  ...extra,
});

describe(BatchController.name, () => {
  let t: TestApp;
  let base: string;
  let port: number;
  /** Generations counted on the real engine, and generations through the real service: all, and in flight. */
  const counts = { engine: 0, service: 0, inFlight: 0, maxInFlight: 0 };
  let delayMs = 0;
  /** Every service generation passes it first: a spec that needs the batch to stand still sets one that holds. */
  let gate = new Gate();

  beforeAll(async () => {
    // One client sends batches of up to 10,000 items here: the rate limit, which charges each
    // variation, has its own specs (ops-rate-limit).
    t = await createTestApp({ env: { BATCH_MAX_REQUESTS: '2000', BATCH_MAX_NDJSON_LINES: '20000', BODY_LIMIT_BYTES: '4194304', RATE_LIMIT_MAX: '0' } });
    const engine = t.app.get(TemplateCaptionEngine, { strict: false });
    const generate = engine.generate.bind(engine);
    vi.spyOn(engine, 'generate').mockImplementation((req, i) => {
      counts.engine += 1;
      return generate(req, i);
    });
    const captions = t.app.get(CaptionsService, { strict: false });
    const serviceGenerate = captions.generate.bind(captions);
    // The engine is synchronous: generations overlap only through the service's async path, so
    // that is where "in flight" is measured, and where a spec holds or paces them.
    vi.spyOn(captions, 'generate').mockImplementation(async (...args: Parameters<CaptionsService['generate']>) => {
      counts.service += 1;
      counts.inFlight += 1;
      counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
      try {
        // Pacing only: generations overlap so the most in flight shows; no assertion reads the clock.
        if (delayMs > 0) await tick(delayMs);
        await gate.pass();
        return await serviceGenerate(...args);
      } finally {
        counts.inFlight -= 1;
      }
    });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}/api/v14/lazy`;
  });
  afterAll(async () => t.close());
  afterEach(() => {
    delayMs = 0;
    counts.maxInFlight = 0;
    gate.open();
    gate = new Gate();
  });

  /**
   * `POST /batch-process` through the client package; the raw Response, to read the stream as it
   * comes (the client reads an error body itself: it gets a copy of those).
   */
  const post = async (body: BatchBody, opts: { query?: BatchQuery; headers?: Record<string, string>; signal?: AbortSignal } = {}) => {
    let raw: Response | undefined;
    await apiClient(port, { 'accept-encoding': 'identity' }).POST('/api/v14/lazy/batch-process', {
      body,
      params: { query: opts.query },
      headers: opts.headers,
      signal: opts.signal,
      parseAs: 'stream',
      fetch: async (req: Request) => {
        raw = await fetch(req);
        return raw.ok ? raw : raw.clone();
      },
    });
    return raw!;
  };

  const itemsOf = (all: Item[]) => all.filter((x) => !('batch_id' in x));

  it('streams 990 results and 10 itemised failures for 1,000 requests with 10 invalid, then the summary', async () => {
    const requests = Array.from({ length: 1000 }, (_, i) =>
      i % 100 === 7 ? captionRequest(i, { hashtag_count: 31 }) : captionRequest(i),
    );
    const outcomes = async () => Object.fromEntries((await batchItems.get()).values.map((v) => [v.labels.outcome, v.value]));
    const before = await outcomes();
    const res = await post({ requests, batch_id: 'catalogue-1' }, { query: { chunk_size: 100 } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-batch-size')).toBe('1000');
    const all = (await res.json()) as Item[];
    const items = itemsOf(all);
    expect(items).toHaveLength(1000);
    expect(items.filter((x) => x.success)).toHaveLength(990);
    const failures = items.filter((x) => !x.success);
    expect(failures.map((f) => f.index).sort((a, b) => a! - b!)).toEqual([7, 107, 207, 307, 407, 507, 607, 707, 807, 907]);
    expect(failures[0]).toMatchObject({ caption: null, error: { code: 'validation_failed', details: [{ field: 'hashtag_count' }] } });
    for (const f of failures) expect(f.request_id).toBe(`req-${f.index}`);
    const ok = items.find((x) => x.success)!;
    expect(typeof ok.caption).toBe('string');
    expect((ok.hashtags as string[]).length).toBe(5);
    expect(ok.quality_score).toBeGreaterThan(0);
    expect(all.at(-1)).toMatchObject({ batch_id: 'catalogue-1', total: 1000, succeeded: 990, failed: 10 });
    expect(new Set(items.map((x) => x.request_id)).size).toBe(1000);
    const after = await outcomes();
    expect((after.failed ?? 0) - (before.failed ?? 0)).toBe(10);
    expect((after.succeeded ?? 0) + (after.below_threshold ?? 0) - (before.succeeded ?? 0) - (before.below_threshold ?? 0)).toBe(990);
  }, 60_000);

  it('sends the first result long before the last is generated', async () => {
    // The first generation goes through; the others wait until the client has the first result.
    gate = new Gate(1);
    const before = counts.engine;
    const requests = Array.from({ length: 1000 }, (_, i) => captionRequest(i, { request_id: undefined }));
    const res = await post({ requests, max_concurrent: 5 }, { headers: { accept: 'application/x-ndjson' } });
    const reader = res.body!.getReader();
    const first = await orFailAfter(reader.read(), SETTLED.timeout, 'the first result was held back');
    const generatedAtFirst = counts.engine - before;
    expect(JSON.parse(new TextDecoder().decode(first.value).split('\n')[0]!)).toMatchObject({ success: true });
    expect(generatedAtFirst).toBeLessThan(100);
    gate.open();
    let rest = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value).split('\n').filter(Boolean).length;
    }
    expect(counts.engine - before).toBeGreaterThanOrEqual(1000);
    expect(rest).toBeGreaterThan(900);
  }, 60_000);

  it('decodes a gzip NDJSON upload; 415 for an encoding it cannot decode, 400 for a corrupt one', async () => {
    const body = gzipSync(Buffer.from([0, 1, 2].map((i) => JSON.stringify(captionRequest(i, { request_id: `gz-${i}` }))).join('\n')));
    const upload = (encoding: string) =>
      fetch(`${base}/batch-process`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'content-encoding': encoding, accept: 'application/x-ndjson' },
        body,
      });
    const lines = (await (await upload('gzip')).text()).trim().split('\n').map((l) => JSON.parse(l) as Item);
    expect(lines.filter((x) => x.success).map((x) => x.request_id).sort()).toEqual(['gz-0', 'gz-1', 'gz-2']);
    expect((await upload('zstd')).status).toBe(415);
    const corrupt = await fetch(`${base}/batch-process`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body: Buffer.from('not gzip at all'),
    });
    expect(corrupt.status).toBe(400);
    expect(await corrupt.json()).toMatchObject({ error: 'malformed_json' });
  });

  it('stops generating when the client disconnects mid-batch', async () => {
    gate = new Gate(2);
    const before = counts.service;
    const controller = new AbortController();
    const requests = Array.from({ length: 1000 }, (_, i) => captionRequest(i, { request_id: undefined }));
    const res = await post({ requests, max_concurrent: 2 }, { signal: controller.signal, headers: { accept: 'application/x-ndjson' } });
    await res.body!.getReader().read();
    // Two generations are done and the next two wait in both slots: the batch stands still.
    await vi.waitFor(() => expect(gate.held).toBe(2), SETTLED);
    controller.abort();
    await vi.waitFor(() => expect(ResponseStream.openCount()).toBe(0), SETTLED);
    // The server has seen the client go: the held two may finish, and nothing after them may start.
    gate.open();
    await vi.waitFor(() => expect(counts.inFlight).toBe(0), SETTLED);
    expect(counts.service - before).toBe(4);
  });

  it('never has more than max_concurrent generations in flight; parallel_processing=false means one', async () => {
    delayMs = 2;
    const requests = Array.from({ length: 60 }, (_, i) => captionRequest(i, { request_id: undefined }));
    await (await post({ requests, max_concurrent: 4 })).json();
    expect(counts.maxInFlight).toBe(4);
    counts.maxInFlight = 0;
    await (await post({ requests, max_concurrent: 4, parallel_processing: false })).json();
    expect(counts.maxInFlight).toBe(1);
  });

  describe('Idempotency-Key', () => {
    const requests = Array.from({ length: 30 }, (_, i) => captionRequest(i));

    it('replays a finished batch without generating again', async () => {
      const key = `replay-${Date.now()}`;
      const first = (await (await post({ requests, batch_id: 'b-replay' }, { headers: { 'idempotency-key': key } })).json()) as Item[];
      const before = counts.engine;
      const res = await post({ requests, batch_id: 'b-replay' }, { headers: { 'idempotency-key': key, accept: 'application/x-ndjson' } });
      expect(res.headers.get('idempotent-replayed')).toBe('true');
      const again = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as Item);
      expect(again).toEqual(first);
      expect(counts.engine).toBe(before);
    });

    it('replays an NDJSON upload with the same key and body, and answers 422 for another body', async () => {
      const key = `ndjson-${Date.now()}`;
      const upload = (body: string) =>
        fetch(`${base}/batch-process`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson', 'idempotency-key': key },
          body,
        });
      const lines = requests.map((r) => JSON.stringify(r)).join('\n');
      const first = await (await upload(lines)).text();
      const before = counts.engine;
      const again = await upload(lines);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await again.text()).toBe(first);
      expect(counts.engine).toBe(before);
      const other = await upload(lines.split('\n').slice(1).join('\n'));
      expect(other.status).toBe(422);
    });

    it('answers 422 for the same key with another body', async () => {
      const key = `mismatch-${Date.now()}`;
      await (await post({ requests }, { headers: { 'idempotency-key': key } })).json();
      const res = await post({ requests: requests.slice(1) }, { headers: { 'idempotency-key': key } });
      expect(res.status).toBe(422);
      expect(await res.json()).toMatchObject({ error: 'validation_failed', details: [{ field: 'Idempotency-Key' }] });
    });

    it('answers 409 while the first is still running, and runs again once a disconnected run released the key', async () => {
      const key = `running-${Date.now()}`;
      const store = t.app.get(IdempotencyStore, { strict: false });
      const release = store.release.bind(store);
      let released = false;
      const releases = vi.spyOn(store, 'release').mockImplementation(async (k) => {
        await release(k);
        // Stored under the client's scope: `<client>:<key>`.
        if (k.endsWith(key)) released = true;
      });
      // The first run sends one result, then waits: it is still running whatever the machine's speed.
      gate = new Gate(1);
      const controller = new AbortController();
      const big = Array.from({ length: 500 }, (_, i) => captionRequest(i));
      const first = await post({ requests: big }, { headers: { 'idempotency-key': key }, signal: controller.signal });
      await first.body!.getReader().read();
      const second = await post({ requests: big }, { headers: { 'idempotency-key': key } });
      expect(second.status).toBe(409);
      expect(await second.json()).toMatchObject({ error: 'conflict' });
      controller.abort();
      try {
        await vi.waitFor(() => expect(released).toBe(true), SETTLED);
      } finally {
        releases.mockRestore();
      }
      gate.open();
      const third = await post({ requests: big }, { headers: { 'idempotency-key': key } });
      expect(third.status).toBe(200);
      expect(third.headers.get('idempotent-replayed')).toBeNull();
      await third.json();
    });
  });

  it('streams SSE with a progress event per chunk and a done event', async () => {
    const requests = Array.from({ length: 25 }, (_, i) => captionRequest(i));
    const text = await (await post({ requests }, { query: { chunk_size: 10 }, headers: { accept: 'text/event-stream' } })).text();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)].map((m) => ({ event: m[1], data: JSON.parse(m[2]!) as Item }));
    expect(events.filter((e) => e.event === 'result')).toHaveLength(25);
    expect(events.filter((e) => e.event === 'progress').map((e) => e.data.done)).toEqual([10, 20, 25]);
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { total: 25, succeeded: 25, failed: 0 } });
  });

  it('regenerates items below quality_threshold and flags those that stay below', async () => {
    // Without a call to action a caption scores at most 97.5 (README, Captions: scores).
    const requests = Array.from({ length: 5 }, (_, i) => captionRequest(i, { include_cta: false, user_id: 'regen-user' }));
    const before = counts.engine;
    const all = (await (await post({ requests, quality_threshold: 0.99 })).json()) as Item[];
    for (const item of itemsOf(all)) {
      expect(item).toMatchObject({ success: true, regenerations: 2, below_threshold: true });
      expect(item.quality_score).toBeLessThan(99);
    }
    expect(counts.engine - before).toBe(5 * 3);
    expect(all.at(-1)).toMatchObject({ succeeded: 5, below_threshold: 5 });
    // Every variation is in the history: 5 first generations (through CaptionsService) and 5 × 2 regenerations.
    const history = (await (await fetch(`${base}/caption-history?user_id=regen-user`)).json()) as { pagination: { total_items: number } };
    expect(history.pagination.total_items).toBe(5 * 3);
    const met = (await (await post({ requests, quality_threshold: 0.5 })).json()) as Item[];
    for (const item of itemsOf(met)) expect(item).toMatchObject({ regenerations: 0, below_threshold: false });
  });

  describe('bad input, answered before any work starts', () => {
    const cases: Array<[string, unknown, BatchQuery | undefined, number, string?]> = [
      ['empty requests', { requests: [] }, undefined, 422, 'requests'],
      ['requests of the wrong type', { requests: 'all of them' }, undefined, 422, 'requests'],
      ['max_concurrent 0', { requests: [captionRequest(1)], max_concurrent: 0 }, undefined, 422, 'max_concurrent'],
      ['max_concurrent 51', { requests: [captionRequest(1)], max_concurrent: 51 }, undefined, 422, 'max_concurrent'],
      ['quality_threshold 2', { requests: [captionRequest(1)], quality_threshold: 2 }, undefined, 422, 'quality_threshold'],
      ['chunk_size 5', { requests: [captionRequest(1)] }, { chunk_size: 5 }, 422, 'chunk_size'],
      ['chunk_size 1001', { requests: [captionRequest(1)] }, { chunk_size: 1001 }, 422, 'chunk_size'],
      ['an unknown field', { requests: [captionRequest(1)], priority: 'high' }, undefined, 422, 'priority'],
      ['more requests than allowed', { requests: Array.from({ length: 2001 }, (_, i) => captionRequest(i)) }, undefined, 422, 'requests'],
      ['two equal request ids', { requests: [captionRequest(1), captionRequest(2), captionRequest(1)] }, undefined, 422, 'requests.2.request_id'],
    ];
    it.each(cases)('%s', async (_name, body, query, status, field) => {
      const before = counts.engine;
      // Bodies the schema refuses, sent as they are: the server must refuse them too.
      const res = await post(body as BatchBody, { query });
      expect(res.status).toBe(status);
      const err = (await res.json()) as { error: string; details?: Array<{ field: string; message: string }> };
      expect(err.error).toBe('validation_failed');
      expect(err.details?.map((d) => d.field)).toContain(field);
      expect(counts.engine).toBe(before);
    });

    it('names both positions of a duplicated request id', async () => {
      const res = await post({ requests: [captionRequest(1), captionRequest(2), captionRequest(1)] });
      expect(((await res.json()) as { message: string }).message).toBe('requests.2.request_id duplicates requests.0.request_id ("req-1")');
    });

    it('answers 415 for a body that is neither JSON nor NDJSON, and 422 for an empty NDJSON upload', async () => {
      const plain = await fetch(`${base}/batch-process`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
      expect(plain.status).toBe(415);
      const empty = await fetch(`${base}/batch-process`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '\n\n' });
      expect(empty.status).toBe(422);
    });
  });
});
