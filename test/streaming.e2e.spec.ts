import { Controller, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { getEventListeners, once } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { Observable } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { negotiateFormat } from '../src/common/streaming/negotiation.js';
import { ResponseStream } from '../src/common/streaming/response-stream.js';
import { orFailAfter } from './support/export-clients.js';
import { Gate } from './support/gate.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * What the test routes' producers did. `gate` paces the Observable producer (every item passes it
 * before it is made; a spec that needs a slow source sets a `Gate` that holds); `active` counts
 * its loops still running.
 */
const produced: { count: number; returned: boolean; unsubscribed: boolean; outcome?: string; gate: Gate; active: number } = {
  count: 0,
  returned: false,
  unsubscribed: false,
  gate: new Gate(),
  active: 0,
};

/** A bound on waits for the server: generous, as the machine may be busy. */
const SETTLED = { timeout: 10_000 };

/** Routes that exercise the streaming helper the way feature controllers use it. */
@Controller('stream-test')
class StreamTestController {
  @Post('observable')
  async observable(@Req() req: Request, @Res() res: Response, @Query('n') n = '5', @Query('failAt') failAt?: string) {
    const format = negotiateFormat(req, ['json', 'ndjson', 'sse']);
    const stream = new ResponseStream<{ i: number }>(req, res, { format, compress: true, route: 'test', sseEvent: 'variation' });
    const items$ = new Observable<{ i: number }>((sub) => {
      let stopped = false;
      produced.active += 1;
      void (async () => {
        try {
          for (let i = 0; i < Number(n) && !stopped; i++) {
            await stream.ready();
            if (failAt !== undefined && i === Number(failAt)) return sub.error(new Error('engine exploded at /secret/path'));
            await produced.gate.pass();
            if (stopped) break;
            produced.count += 1;
            sub.next({ i });
          }
          sub.complete();
        } finally {
          produced.active -= 1;
        }
      })();
      return () => {
        stopped = true;
        produced.unsubscribed = true;
      };
    });
    await stream.send(items$);
  }

  /** SSE whose one event comes after `delayMs`: a slow source, as a batch queued behind others. */
  @Post('slow-sse')
  async slowSse(@Req() req: Request, @Res() res: Response, @Query('delayMs') delayMs = '300', @Query('heartbeatMs') heartbeatMs = '40') {
    const stream = new ResponseStream<{ i: number }>(req, res, { format: negotiateFormat(req, ['ndjson', 'sse']), route: 'test', sseEvent: 'variation', heartbeatMs: Number(heartbeatMs) });
    async function* late() {
      await new Promise((resolve) => setTimeout(resolve, Number(delayMs)));
      yield { i: 0 };
    }
    await stream.send(late());
  }

  @Post('iterable')
  async iterable(@Req() req: Request, @Res() res: Response, @Query('n') n = '100000') {
    const stream = new ResponseStream<{ i: number; pad: string }>(req, res, { format: 'ndjson', route: 'test' });
    async function* rows() {
      try {
        for (let i = 0; i < Number(n); i++) {
          produced.count += 1;
          yield { i, pad: 'x'.repeat(1000) };
        }
      } finally {
        produced.returned = true;
      }
    }
    await stream.send(rows());
  }

  @Post('waits')
  async waits(@Req() req: Request, @Res() res: Response) {
    const stream = new ResponseStream<Record<string, unknown>>(req, res, { format: 'ndjson', route: 'test' });
    const listeners = () => ({ drain: res.listenerCount('drain'), abort: getEventListeners(stream.signal, 'abort').length });
    const items$ = new Observable<Record<string, unknown>>((sub) => {
      void (async () => {
        while (!res.writableNeedDrain) sub.next({ pad: 'x'.repeat(10_000) });
        const before = listeners();
        const waits = Array.from({ length: 30 }, () => stream.ready());
        const during = listeners();
        await Promise.all(waits);
        sub.next({ before, during, after: listeners() });
        sub.complete();
      })();
    });
    await stream.send(items$);
  }

  /** Everything at once, ignoring backpressure, then the end: a client that reads nothing stalls the tail. */
  @Post('tail')
  async tail(@Req() req: Request, @Res() res: Response) {
    const stream = new ResponseStream<{ pad: string }>(req, res, { format: 'ndjson', route: 'test', idleTimeoutMs: 200 });
    const items$ = new Observable<{ pad: string }>((sub) => {
      for (let i = 0; i < 2000; i++) sub.next({ pad: 'x'.repeat(10_000) });
      sub.complete();
    });
    produced.outcome = await stream.send(items$);
  }

  @Post('batches')
  async batches(@Req() req: Request, @Res() res: Response, @Query('failAfter') failAfter?: string) {
    const format = negotiateFormat(req, ['json', 'ndjson']);
    const stream = new ResponseStream<{ i: number; text: string }>(req, res, { format, compress: true, route: 'test' });
    await stream.sendBatches((async function* () {
      let i = 0;
      // Batches of varied sizes, one item larger than a whole write, emoji (three UTF-8 bytes a unit at most).
      for (const size of [1, 700, 3, 1200]) {
        if (failAfter !== undefined && i >= Number(failAfter)) throw new Error('source failed');
        yield Array.from({ length: size }, () => ({ i: i++, text: i === 705 ? '✨'.repeat(40_000) : `row ${i} ✨ "q"` }));
      }
    })());
  }

  @Post('csv')
  async csv(@Req() req: Request, @Res() res: Response) {
    const stream = new ResponseStream<Record<string, unknown>>(req, res, { format: 'csv', route: 'test', csvColumns: ['id', 'caption', 'hashtags'] });
    await stream.send((async function* () {
      yield { id: 1, caption: 'plain', hashtags: ['#a', '#b'] };
      yield { id: 2, caption: 'has "quotes", commas\nand a newline', hashtags: [] };
    })());
  }
}

/** A raw HTTP client: no transparent decoding, so the test sees the bytes on the wire. */
function rawPost(url: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe(ResponseStream.name, () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp({ controllers: [StreamTestController] });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/api/v14/lazy/stream-test`;
  });
  afterAll(async () => t.close());
  afterEach(() => {
    // A producer a spec held is let go, and the next spec starts with a source that never waits.
    produced.gate.open();
    produced.gate = new Gate();
  });

  const post = (path: string, headers: Record<string, string> = {}) => fetch(`${base}/${path}`, { method: 'POST', headers });

  it('streams a JSON array by default, identity when no Accept-Encoding allows compression', async () => {
    const res = await post('observable?n=3', { 'accept-encoding': 'identity' });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await res.json()).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  it('streams NDJSON and SSE chosen by Accept', async () => {
    const nd = await (await post('observable?n=2', { accept: 'application/x-ndjson', 'accept-encoding': 'identity' })).text();
    expect(nd).toBe('{"i":0}\n{"i":1}\n');
    const sse = await (await post('observable?n=2', { accept: 'text/event-stream', 'accept-encoding': 'identity' })).text();
    expect(sse).toContain('event: variation\ndata: {"i":1}\n\n');
    expect(sse).toMatch(/event: done\ndata: \{"count":2,"processing_time":[0-9.]+\}\n\n$/);
  });

  it('keeps a quiet SSE stream alive with comment lines, and sends none in NDJSON or when turned off', async () => {
    const sse = await (await post('slow-sse', { accept: 'text/event-stream', 'accept-encoding': 'identity' })).text();
    const firstEvent = sse.indexOf('event: variation');
    expect(sse.slice(0, firstEvent)).toContain(': keep-alive\n\n');
    expect(sse.slice(firstEvent)).toMatch(/^event: variation\ndata: \{"i":0\}\n\n/);
    const off = await (await post('slow-sse?heartbeatMs=0', { accept: 'text/event-stream', 'accept-encoding': 'identity' })).text();
    expect(off).not.toContain('keep-alive');
    const nd = await (await post('slow-sse', { accept: 'application/x-ndjson', 'accept-encoding': 'identity' })).text();
    expect(nd).toBe('{"i":0}\n');
  });

  it('answers 406 for an Accept it cannot produce', async () => {
    const res = await post('observable', { accept: 'application/xml' });
    expect(res.status).toBe(406);
    expect(((await res.json()) as { error: string }).error).toBe('not_acceptable');
  });

  it('compresses with gzip or br only when asked, and the raw body decodes', async () => {
    for (const [enc, decode] of [['gzip', gunzipSync], ['br', brotliDecompressSync]] as const) {
      const raw = await rawPost(`${base}/observable?n=4`, { 'accept-encoding': enc, accept: 'application/x-ndjson' });
      expect(raw.headers['content-encoding']).toBe(enc);
      expect(decode(raw.body).toString('utf8')).toBe('{"i":0}\n{"i":1}\n{"i":2}\n{"i":3}\n');
    }
    const plain = await rawPost(`${base}/observable?n=2`, { accept: 'application/x-ndjson' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString('utf8')).toBe('{"i":0}\n{"i":1}\n');
  });

  it('delivers the first item before the last is made', async () => {
    // The source makes its first item, then waits: the client can only see it if it was sent on its own.
    produced.gate = new Gate(1);
    const before = produced.count;
    const res = await post('observable?n=40', { accept: 'application/x-ndjson', 'accept-encoding': 'gzip' });
    const reader = res.body!.getReader();
    const first = await orFailAfter(reader.read(), SETTLED.timeout, 'the first item was held back');
    expect(new TextDecoder().decode(first.value)).toMatch(/^\{"i":0\}/);
    expect(produced.count - before).toBe(1);
    await reader.cancel();
    // Closed (its producer stopped) before the next spec counts what is produced.
    await vi.waitFor(() => expect(ResponseStream.openCount()).toBe(0), SETTLED);
  });

  it('ends with the error item when the source fails after the first byte, leaking nothing', async () => {
    const json = (await (await post('observable?n=5&failAt=2', { 'accept-encoding': 'identity' })).json()) as Array<Record<string, unknown>>;
    expect(json.slice(0, 2)).toEqual([{ i: 0 }, { i: 1 }]);
    expect(json[2]).toMatchObject({ error: 'internal_error', message: 'Internal server error' });
    expect(typeof json[2]!.timestamp).toBe('number');
    expect(JSON.stringify(json)).not.toContain('secret');
    const sse = await (await post('observable?n=5&failAt=1', { accept: 'text/event-stream', 'accept-encoding': 'identity' })).text();
    expect(sse).toMatch(/event: error\ndata: \{"error":"internal_error"/);
  });

  it('stops the producer when the client disconnects', async () => {
    produced.unsubscribed = false;
    produced.gate = new Gate(1);
    const before = produced.count;
    const controller = new AbortController();
    const res = await fetch(`${base}/observable?n=1000`, { method: 'POST', signal: controller.signal, headers: { accept: 'application/x-ndjson' } });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await vi.waitFor(() => expect(produced.unsubscribed).toBe(true), SETTLED);
    // Held before its second item until now: let go, the producer must find itself stopped.
    produced.gate.open();
    await vi.waitFor(() => expect(produced.active).toBe(0), SETTLED);
    expect(produced.count - before).toBe(1);
  });

  it('pulls an iterable only as fast as the client reads (backpressure), and returns it on disconnect', async () => {
    produced.count = 0;
    produced.returned = false;
    const accepted = once(t.app.getHttpServer(), 'request') as Promise<[IncomingMessage, ServerResponse]>;
    const controller = new AbortController();
    const res = await fetch(`${base}/iterable?n=100000`, { method: 'POST', signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const [, serverRes] = await accepted;
    // The client stops reading: the server may fill socket buffers, then must park on `drain`.
    // Without backpressure it never does, and runs through all 100 MB of rows instead.
    await vi.waitFor(() => expect(serverRes.listenerCount('drain') > 0 || produced.returned).toBe(true), SETTLED);
    expect(produced.returned).toBe(false);
    expect(produced.count).toBeLessThan(20_000);
    controller.abort();
    await vi.waitFor(() => expect(produced.returned).toBe(true), SETTLED);
    // Returned, the generator yields nothing more: the count is final.
    expect(produced.count).toBeLessThan(20_000);
  });

  it('shares one wait among concurrent ready() calls and leaves no listener behind', async () => {
    const text = await (await post('waits', { 'accept-encoding': 'identity' })).text();
    const { before, during, after } = JSON.parse(text.trim().split('\n').at(-1)!);
    expect(during.drain).toBe(before.drain + 1);
    expect(during.abort).toBeLessThanOrEqual(before.abort + 1);
    expect(after).toEqual(before);
  });

  it('resets the connection of a client that stalls on the last bytes, after the idle timeout', async () => {
    produced.outcome = undefined;
    const accepted = once(t.app.getHttpServer(), 'request') as Promise<[IncomingMessage]>;
    const req = httpRequest(`${base}/tail`, { method: 'POST', headers: { 'accept-encoding': 'identity' } });
    req.on('error', () => undefined);
    req.end();
    try {
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      res.on('error', () => undefined);
      // The client reads nothing: only the server's side of the connection can show it closing.
      const [serverReq] = await accepted;
      await orFailAfter(once(serverReq.socket, 'close'), 15_000, 'the server kept the stalled stream open');
      await vi.waitFor(() => expect(produced.outcome).toBe('idle_timeout'));
    } finally {
      req.destroy();
    }
  });

  it('sends batches in order, in writes of about 64 KB, with an item larger than one write and compressed', async () => {
    for (const encoding of ['identity', 'gzip']) {
      const lines = (await (await post('batches', { accept: 'application/x-ndjson', 'accept-encoding': encoding })).text()).trimEnd().split('\n');
      const items = lines.map((l) => JSON.parse(l) as { i: number; text: string });
      expect(items.map((r) => r.i)).toEqual(Array.from({ length: 1904 }, (_, i) => i));
      expect(items[704]!.text).toBe('✨'.repeat(40_000));
    }
    const array = JSON.parse(await (await post('batches', { accept: 'application/json' })).text()) as unknown[];
    expect(array).toHaveLength(1904);
  });

  it('ends batches with the error item after the rows already framed when the source fails', async () => {
    const text = await (await post('batches?failAfter=701', { accept: 'application/json', 'accept-encoding': 'identity' })).text();
    const body = JSON.parse(text) as Array<{ i?: number; error?: string }>;
    expect(body.slice(0, -1).map((r) => r.i)).toEqual(Array.from({ length: 701 }, (_, i) => i));
    expect(body.at(-1)).toMatchObject({ error: 'internal_error' });
  });

  it('writes RFC 4180 CSV with a header row', async () => {
    const text = await (await post('csv')).text();
    expect(text).toBe('id,caption,hashtags\r\n1,plain,#a #b\r\n2,"has ""quotes"", commas\nand a newline",\r\n');
  });

  it('ends open streams with the shutdown item', async () => {
    // Held after its first item, the stream is still open whatever the machine's speed.
    produced.gate = new Gate(1);
    const res = await post('observable?n=1000', { accept: 'application/x-ndjson', 'accept-encoding': 'identity' });
    const reader = res.body!.getReader();
    await reader.read();
    await ResponseStream.endAll();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const last = JSON.parse(text.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ error: 'not_ready', message: 'The server is shutting down' });
    expect(ResponseStream.openCount()).toBe(0);
  });
});
