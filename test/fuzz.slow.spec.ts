import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzCases, type FuzzCase, type Operation } from './support/fuzz-inputs.js';
import { listening } from './support/raw-request.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * Every documented operation (read from the committed openapi.json, so new routes are fuzzed
 * without touching this file) against hostile input: wrong types, deep nesting, `__proto__` and
 * `constructor` keys, huge strings, bad UTF-8, bad percent-encoding, wrong content types and
 * encodings, gzip bombs. Every answer must be < 500, an error must have the contract's body, the
 * server must keep answering, and `Object.prototype` must stay untouched.
 * `FUZZ_RUNS` sets the cases per route (default 1000).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const spec = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'));

type SpecOp = { parameters?: Array<{ name: string; in: string }>; requestBody?: { content?: Record<string, { schema?: { $ref?: string; properties?: object } }> } };

function bodyFields(op: SpecOp): string[] | null {
  if (!op.requestBody) return null;
  const schema = Object.values(op.requestBody.content ?? {})[0]?.schema;
  const ref = schema?.$ref?.split('/').at(-1);
  const props = ref ? spec.components.schemas[ref]?.properties : schema?.properties;
  return Object.keys(props ?? {});
}

const operations: Operation[] = Object.entries(spec.paths as Record<string, Record<string, SpecOp>>).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => ({
    method: method.toUpperCase(),
    path,
    queryNames: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
    pathNames: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
    bodyFields: bodyFields(op),
  })),
);

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

function send(port: number, c: FuzzCase): Promise<{ status: number; text: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: c.method, path: c.path, agent, timeout: 10_000, headers: { ...c.headers, ...(c.body ? { 'content-length': c.body.length } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in 10 s: ${c.label}`)));
    req.on('error', reject);
    req.end(c.body);
  });
}

describe('fuzz (e2e)', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '0' } });
    port = await listening(t.app);
  });
  afterAll(async () => {
    agent.destroy();
    await t.close();
  });

  it('reads at least one operation from openapi.json', () => {
    expect(operations.length).toBeGreaterThan(0);
  });

  for (const op of operations) {
    it(`${op.method} ${op.path}: ${RUNS} hostile requests, never a 5xx, errors in the contract's body`, async () => {
      await fc.assert(
        fc.asyncProperty(fuzzCases(op), async (c) => {
          const res = await send(port, c);
          expect(res.status, c.label).toBeLessThan(500);
          if (res.status >= 400 && c.method !== 'HEAD') {
            expect(res.contentType, c.label).toMatch(/^application\/json/);
            const body = JSON.parse(res.text);
            expect(body, c.label).toMatchObject({ error: expect.any(String), message: expect.any(String), request_id: expect.any(String), timestamp: expect.any(Number) });
          }
          expect(Object.getOwnPropertyNames(Object.prototype).filter((k) => !BASE_PROTO_KEYS.has(k)), 'Object.prototype was changed').toEqual([]);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
      const live = await send(port, { method: 'GET', path: '/api/v14/lazy/health/live', headers: {}, label: 'live' });
      expect(live.status).toBe(200);
    }, 600_000);
  }
});

const BASE_PROTO_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));
