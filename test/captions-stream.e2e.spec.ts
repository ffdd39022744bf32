import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CaptionsController } from '../src/captions/captions.controller.js';
import { CaptionEngine } from '../src/captions/engine/caption-engine.js';
import { ResponseStream } from '../src/common/streaming/response-stream.js';
import { LazyLoaderService } from '../src/lazy-loader/lazy-loader.service.js';
import { createTestApp, type TestApp } from './support/test-app.js';

let body = '';
/** Each test streams its own request, so nothing it checks was cached by another test. */
const useRequest = (requestId: string) => {
  body = JSON.stringify({ content_description: 'Morning trail run through the misty pine forest', hashtag_count: 5, request_id: requestId });
};

/** A raw client: no transparent decoding, so the test sees the bytes on the wire. */
function rawPost(url: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Blocks for `ms` inside a draft, as a slow engine would (drafting is synchronous). */
function busy(ms: number) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Makes every draft of the real engine slow (`ms` each) and counts them. */
function slowDrafts(engine: CaptionEngine, ms: number): { count: number } {
  const drafts = { count: 0 };
  const generate = engine.generate.bind(engine);
  vi.spyOn(engine, 'generate').mockImplementation((req, i) => {
    busy(ms);
    drafts.count += 1;
    return generate(req, i);
  });
  return drafts;
}

describe(`${CaptionsController.name} streaming`, () => {
  let t: TestApp;
  let url: string;
  let engine: CaptionEngine;
  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/api/v14/lazy/stream-captions`;
    engine = t.app.get(CaptionEngine);
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => t.close());

  const post = (query: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(`${url}${query}`, { method: 'POST', body, signal, headers: { 'content-type': 'application/json', ...headers } });

  it('streams a JSON array of items by default, with the streaming headers', async () => {
    useRequest('stream-0');
    const res = await post('?variations=7&chunk_size=3', { 'accept-encoding': 'identity' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-streaming')).toBe('true');
    expect(res.headers.get('x-chunk-size')).toBe('3');
    expect(res.headers.get('content-encoding')).toBeNull();
    const items = (await res.json()) as Array<Record<string, unknown>>;
    expect(items.map((i) => i.variation_index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['caption', 'hashtags', 'processing_time', 'quality_score', 'timestamp', 'variation_index']);
      expect(item.hashtags).toHaveLength(5);
    }
    expect(new Set(items.map((i) => i.caption)).size).toBe(7);
  });

  it('streams NDJSON and SSE chosen by Accept', async () => {
    useRequest('stream-1');
    const nd = await (await post('?variations=3', { accept: 'application/x-ndjson' })).text();
    const lines = nd.trimEnd().split('\n').map((l) => JSON.parse(l) as { variation_index: number });
    expect(lines.map((l) => l.variation_index)).toEqual([0, 1, 2]);
    const sse = await (await post('?variations=2', { accept: 'text/event-stream' })).text();
    expect(sse.match(/event: variation\ndata: \{"variation_index":\d/g)).toHaveLength(2);
    expect(sse).toMatch(/event: done\ndata: \{"count":2,"processing_time":[0-9.e-]+\}\n\n$/);
  });

  it('answers 406 for an Accept it cannot make, and 422 for bad query values, before streaming', async () => {
    useRequest('stream-2');
    expect((await post('', { accept: 'application/xml' })).status).toBe(406);
    for (const q of ['?variations=0', '?variations=101', '?chunk_size=0', '?enable_compression=yes', '?colour=red']) {
      const res = await post(q);
      expect(res.status, q).toBe(422);
      expect(((await res.json()) as { error: string }).error).toBe('validation_failed');
    }
  });

  it('sends gzip or br only when enabled and accepted, and the bodies decode', async () => {
    useRequest('stream-3');
    const expected = await (await post('?variations=4', { accept: 'application/x-ndjson', 'accept-encoding': 'identity' })).text();
    for (const [enc, decode] of [['gzip', gunzipSync], ['br', brotliDecompressSync]] as const) {
      const raw = await rawPost(`${url}?variations=4`, { accept: 'application/x-ndjson', 'accept-encoding': enc });
      expect(raw.headers['content-encoding']).toBe(enc);
      const text = decode(raw.body).toString('utf8');
      // Same captions; only the timings differ between runs.
      const strip = (s: string) => s.replace(/"(processing_time|timestamp)":[0-9.e-]+/g, '');
      expect(strip(text)).toBe(strip(expected));
    }
    const off = await rawPost(`${url}?variations=2&enable_compression=false`, { accept: 'application/x-ndjson', 'accept-encoding': 'gzip, br' });
    expect(off.headers['content-encoding']).toBeUndefined();
    expect(off.body.toString('utf8').split('\n')).toHaveLength(3);
    const none = await rawPost(`${url}?variations=2`, { accept: 'application/x-ndjson' });
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(none.body.toString('utf8').split('\n')[0]!).variation_index).toBe(0);
  });

  it('delivers the first item before the last is made', async () => {
    useRequest('stream-4');
    const drafts = slowDrafts(engine, 5);
    const res = await post('?variations=100', { accept: 'application/x-ndjson', 'accept-encoding': 'gzip' });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^\{"variation_index":0,/);
    expect(drafts.count).toBeLessThan(100);
    await reader.cancel();
  });

  it('stops generating as soon as the client disconnects, and closes the stream', async () => {
    useRequest('stream-5');
    const drafts = slowDrafts(engine, 5);
    const controller = new AbortController();
    const res = await post('?variations=100', { accept: 'application/x-ndjson' }, controller.signal);
    await res.body!.getReader().read();
    expect(t.app.get(LazyLoaderService).getStats().active_streams).toBeGreaterThan(0);
    controller.abort();
    await vi.waitFor(() => expect(ResponseStream.openCount()).toBe(0));
    await vi.waitFor(() => expect(t.app.get(LazyLoaderService).getStats().active_streams).toBe(0));
    const afterClose = drafts.count;
    await new Promise((r) => setTimeout(r, 200));
    expect(drafts.count).toBe(afterClose);
    expect(drafts.count).toBeLessThan(100);
  });

  it('stops drafting POST /captions variations when the client leaves before the answer', async () => {
    const drafts = slowDrafts(engine, 20);
    const controller = new AbortController();
    const pending = fetch(url.replace('stream-captions', 'captions'), {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content_description: 'Morning trail run through the misty pine forest', variation_count: 10, request_id: 'leaves-early' }),
    }).catch((err: unknown) => err);
    await vi.waitFor(() => expect(drafts.count).toBeGreaterThan(0));
    controller.abort();
    await pending;
    await new Promise((r) => setTimeout(r, 150));
    const afterLeave = drafts.count;
    await new Promise((r) => setTimeout(r, 150));
    expect(drafts.count).toBe(afterLeave);
    expect(drafts.count).toBeLessThan(10);
  });

  it('ends with the error item when drafting fails after the first byte', async () => {
    useRequest('stream-6');
    const generate = engine.generate.bind(engine);
    vi.spyOn(engine, 'generate').mockImplementation((req, i) => {
      // Variations are drafts.count in chunks of 5: the second chunk fails after the first has gone out.
      if (i === 6) throw new Error('template blew up at /srv/secret.ts');
      return generate(req, i);
    });
    const items = (await (await post('?variations=8', { 'accept-encoding': 'identity' })).json()) as Array<Record<string, unknown>>;
    expect(items.slice(0, -1).map((i) => i.variation_index)).toEqual([0, 1, 2, 3, 4]);
    // The lazy loader retried the failing chunk, then gave up: its error is safe to show.
    expect(items.at(-1)).toMatchObject({ error: 'load_failed', message: expect.stringMatching(/^loading the data failed/) });
    expect(JSON.stringify(items)).not.toContain('secret');
    const sse = await (await post('?variations=8', { accept: 'text/event-stream' })).text();
    expect(sse).toMatch(/event: error\ndata: \{"error":"load_failed"/);
  });
});
