import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CaptionsController } from '../src/captions/captions.controller.js';
import { CaptionsService } from '../src/captions/captions.service.js';
import { TemplateCaptionEngine } from '../src/captions/engine/template-caption.engine.js';
import { ResponseStream } from '../src/common/streaming/response-stream.js';
import { HistoryService } from '../src/history/history.service.js';
import { LazyLoaderService } from '../src/lazy-loader/lazy-loader.service.js';
import type { ChunkSource } from '../src/lazy-loader/lazy-loader.types.js';
import { orFailAfter } from './support/export-clients.js';
import { Gate } from './support/gate.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** A bound on waits for the server: generous, as the machine may be busy. */
const SETTLED = { timeout: 10_000 };

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

/** Counts the drafts of the real engine. */
function countDrafts(engine: TemplateCaptionEngine): { count: number } {
  const drafts = { count: 0 };
  const generate = engine.generate.bind(engine);
  vi.spyOn(engine, 'generate').mockImplementation((req, i) => {
    drafts.count += 1;
    return generate(req, i);
  });
  return drafts;
}

/**
 * Makes every history write pass `gate` first. A chunk of variations is stored once drafted and
 * returned only after, so a held write holds its chunk, and the chunks queued behind it, at a
 * known point: the engine is synchronous and cannot be slowed without blocking the server.
 */
function holdHistory(history: HistoryService, gate: Gate): void {
  const record = history.record.bind(history);
  vi.spyOn(history, 'record').mockImplementation(async (rows) => {
    await gate.pass();
    return record(rows);
  });
}

/** Counts the loads of every chunk source handed to the loader: started, and settled however they ended. */
function watchLoads(loader: LazyLoaderService): { started: number; settled: number } {
  const loads = { started: 0, settled: 0 };
  const wrapped = new WeakMap<object, ChunkSource<unknown>>();
  const wrap = <T>(source: ChunkSource<T>): ChunkSource<T> => {
    let w = wrapped.get(source) as ChunkSource<T> | undefined;
    if (!w) {
      w = {
        ...source,
        loadChunk: (index, ctx) => {
          loads.started += 1;
          const loading = source.loadChunk(index, ctx);
          const settle = () => void (loads.settled += 1);
          loading.then(settle, settle);
          return loading;
        },
      };
      wrapped.set(source, w);
    }
    return w;
  };
  const getChunk = loader.getChunk.bind(loader);
  const prefetch = loader.prefetch.bind(loader);
  vi.spyOn(loader, 'getChunk').mockImplementation((source, index, opts) => getChunk(wrap(source), index, opts));
  vi.spyOn(loader, 'prefetch').mockImplementation((source, index, signal) => prefetch(wrap(source), index, signal));
  return loads;
}

describe(`${CaptionsController.name} streaming`, () => {
  let t: TestApp;
  let url: string;
  let engine: TemplateCaptionEngine;
  let history: HistoryService;
  let loader: LazyLoaderService;
  let gate = new Gate();
  beforeAll(async () => {
    // The scheduled background prefetch drafts chunks after recent reads on a clock of its own:
    // kept out, so a spec counts only the drafts its own request asked for.
    t = await createTestApp({ env: { LAZY_PREFETCH_INTERVAL_MS: String(24 * 3600 * 1000) } });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/api/v14/lazy/stream-captions`;
    engine = t.app.get(TemplateCaptionEngine);
    history = t.app.get(HistoryService);
    loader = t.app.get(LazyLoaderService);
  });
  afterEach(() => {
    // Whatever a spec held is let go before the next one starts.
    gate.open();
    gate = new Gate();
    vi.restoreAllMocks();
  });
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
      expect(Object.keys(item).sort()).toEqual(['caption', 'engagement_prediction', 'hashtags', 'model_used', 'processing_time', 'quality_score', 'readability_score', 'timestamp', 'variation_index']);
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
    const drafts = countDrafts(engine);
    // Chunk 0 is stored and sent; chunk 1 waits to be stored, and every later chunk waits behind it.
    gate = new Gate(1);
    holdHistory(history, gate);
    const res = await post('?variations=100', { accept: 'application/x-ndjson', 'accept-encoding': 'gzip' });
    const reader = res.body!.getReader();
    const first = await orFailAfter(reader.read(), SETTLED.timeout, 'the first items were held back');
    expect(new TextDecoder().decode(first.value)).toMatch(/^\{"variation_index":0,/);
    expect(drafts.count).toBeLessThanOrEqual(10);
    await reader.cancel();
    // Over before the next spec counts drafts of its own.
    await vi.waitFor(() => expect(ResponseStream.openCount()).toBe(0), SETTLED);
  });

  it('stops generating as soon as the client disconnects, and closes the stream', async () => {
    useRequest('stream-5');
    const drafts = countDrafts(engine);
    const loads = watchLoads(loader);
    gate = new Gate(1);
    holdHistory(history, gate);
    const controller = new AbortController();
    const res = await post('?variations=100', { accept: 'application/x-ndjson' }, controller.signal);
    await res.body!.getReader().read();
    // Chunk 1 is drafted whole and waits to be stored; the prefetched chunks wait behind it.
    await vi.waitFor(() => expect(gate.held).toBe(1), SETTLED);
    expect(drafts.count).toBe(10);
    expect(loader.getStats().active_streams).toBeGreaterThan(0);
    controller.abort();
    await vi.waitFor(() => expect(ResponseStream.openCount()).toBe(0), SETTLED);
    await vi.waitFor(() => expect(loader.getStats().active_streams).toBe(0), SETTLED);
    // Let the queue move: every load must now end, and the ones that had not begun draft nothing.
    gate.open();
    await vi.waitFor(() => expect(loads.settled).toBe(loads.started), SETTLED);
    expect(loads.started).toBeGreaterThan(2);
    expect(drafts.count).toBe(10);
  });

  it('stops drafting POST /captions variations when the client leaves before the answer', async () => {
    const drafts = countDrafts(engine);
    // Chunk 0 is drafted, then waits to be stored: the request stands still until the gate opens.
    gate = new Gate(0);
    holdHistory(history, gate);
    const captions = t.app.get(CaptionsService);
    const generate = captions.generate.bind(captions);
    const call: { signal?: AbortSignal; settled: boolean } = { settled: false };
    vi.spyOn(captions, 'generate').mockImplementation((request, opts) => {
      call.signal = opts?.signal;
      const answer = generate(request, opts);
      const settle = () => void (call.settled = true);
      answer.then(settle, settle);
      return answer;
    });
    const controller = new AbortController();
    const pending = fetch(url.replace('stream-captions', 'captions'), {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content_description: 'Morning trail run through the misty pine forest', variation_count: 10, request_id: 'leaves-early' }),
    }).catch((err: unknown) => err);
    await vi.waitFor(() => expect(gate.held).toBe(1), SETTLED);
    expect(drafts.count).toBe(5);
    controller.abort();
    await pending;
    await vi.waitFor(() => expect(call.signal?.aborted).toBe(true), SETTLED);
    // The server has seen the client go: once chunk 0 is let through, chunk 1 must not be drafted.
    gate.open();
    await vi.waitFor(() => expect(call.settled).toBe(true), SETTLED);
    expect(drafts.count).toBe(5);
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
