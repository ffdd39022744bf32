import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { apiKeyMiddleware, clientIdentity } from './api-key.middleware.js';

const PUBLIC = ['/api/v14/lazy/health/live', '/metrics'];

/** Runs the middleware on a request for `path` without a key: `next` (let through) or the 401 it answered. */
function run(sut: RequestHandler, path: string): { passed: boolean; status?: number; ms: number } {
  let passed = false;
  let status: number | undefined;
  const req = { path, headers: {} } as unknown as Request;
  const res = {
    setHeader: () => res,
    status: (s: number) => ((status = s), res),
    json: () => res,
  } as unknown as Response;
  const next: NextFunction = () => void (passed = true);
  const started = performance.now();
  void sut(req, res, next);
  return { passed, status, ms: performance.now() - started };
}

describe(apiKeyMiddleware.name, () => {
  const sut = apiKeyMiddleware(['the-key'], PUBLIC)!;

  it('treats a public path with trailing slashes, in any case, as public, and any other path as protected', () => {
    expect(run(sut, '/api/v14/lazy/health/live').passed).toBe(true);
    expect(run(sut, '/API/v14/lazy/Health/Live///').passed).toBe(true);
    expect(run(sut, `/metrics${'/'.repeat(16_000)}`).passed).toBe(true);
    expect(run(sut, '/api/v14/lazy/captions')).toMatchObject({ passed: false, status: 401 });
    expect(run(sut, '/')).toMatchObject({ passed: false, status: 401 });
    expect(run(sut, '////')).toMatchObject({ passed: false, status: 401 });
  });

  it('strips trailing slashes in linear time: a path of 64,000 slashes and a letter is refused at once', () => {
    // A `/\/+$/` search retries from every slash: about 1.5 s for this path, 0.24 s at 16,000 slashes.
    // Best of three: a collection or a preemption only ever adds time; a quadratic search is slow every time.
    const outcomes = [0, 1, 2].map(() => run(sut, `${'/'.repeat(64_000)}x`));
    for (const outcome of outcomes) expect(outcome).toMatchObject({ passed: false, status: 401 });
    expect(Math.min(...outcomes.map((o) => o.ms))).toBeLessThan(50);
  });
});

const request = (headers: Record<string, string>, ip = '10.0.0.7') => ({ headers, ip }) as unknown as Request;

describe(clientIdentity.name, () => {
  it('is the API key when keys are on, however it is presented, and never the key itself', () => {
    const bearer = clientIdentity(request({ authorization: 'Bearer secret-one' }), true);
    expect(clientIdentity(request({ 'x-api-key': 'secret-one' }, '10.0.0.8'), true)).toBe(bearer);
    expect(clientIdentity(request({ 'x-api-key': 'secret-two' }), true)).not.toBe(bearer);
    expect(bearer).toMatch(/^key:[0-9a-f]{32}$/);
    expect(bearer).not.toContain('secret');
  });

  it('is the address when keys are off, whatever key is sent', () => {
    expect(clientIdentity(request({ 'x-api-key': 'secret-one' }), false)).toBe('ip:10.0.0.7');
    expect(clientIdentity(request({}, '10.0.0.8'), false)).toBe('ip:10.0.0.8');
  });
});
