import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchController } from '../src/batch/batch.controller.js';
import { createTestApp, type TestApp } from './support/test-app.js';

type Item = Record<string, unknown> & { index?: number; success?: boolean; request_id?: string | null };

const captionRequest = (i: number) => ({
  content_description: `Handmade ceramic mug number ${i}, glazed in ocean blue`,
  style: 'casual',
  hashtag_count: 5,
  variation_count: 1,
  request_id: `req-${i}`,
});

describe(`${BatchController.name}: a 10,000-line upload`, () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    // One client sends 10,000 items here: the rate limit, which charges each variation, has its own specs.
    t = await createTestApp({ env: { BATCH_MAX_NDJSON_LINES: '20000', RATE_LIMIT_MAX: '0' } });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/api/v14/lazy`;
  });
  afterAll(async () => t.close());

  const itemsOf = (all: Item[]) => all.filter((x) => !('batch_id' in x));

  it('reads an NDJSON upload of 10,000 lines as it arrives; a malformed line is a failed item', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => (i === 4242 ? '{not json' : JSON.stringify(captionRequest(i))));
    const url = new URL(`${base}/batch-process?chunk_size=500&max_concurrent=20`);
    const text = await new Promise<string>((resolve, reject) => {
      // Aborted before the test's own timeout, so a slow run cannot go on generating under the next tests.
      const signal = AbortSignal.timeout(170_000);
      const req = httpRequest(url, { method: 'POST', signal, headers: { 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson' } }, (res) => {
        expect(res.statusCode).toBe(200);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      // Written in pieces, with backpressure, while the response is already being read.
      let i = 0;
      const write = () => {
        while (i < lines.length) {
          const ok = req.write(`${lines.slice(i, i + 250).join('\n')}\n`);
          i += 250;
          if (!ok) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
    const all = text.trim().split('\n').map((l) => JSON.parse(l) as Item);
    const items = itemsOf(all);
    expect(items).toHaveLength(10_000);
    expect(items.find((x) => x.index === 4242)).toMatchObject({ success: false, request_id: null, error: { code: 'malformed_json' } });
    expect(items.filter((x) => x.success)).toHaveLength(9_999);
    expect(all.at(-1)).toMatchObject({ total: 10_000, succeeded: 9_999, failed: 1 });
  }, 180_000);
});
