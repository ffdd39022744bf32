import { Body, Controller, Get, Post } from '@nestjs/common';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { ApiKeyVerifier } from '../src/common/security/api-key.middleware.js';
import { listening, rawRequest } from './support/raw-request.js';
import { createTestApp, type TestApp } from './support/test-app.js';

class EchoDto {
  @IsInt() @Min(1) @Max(30)
  hashtag_count!: number;

  @IsOptional() @IsString()
  pad?: string;
}

@Controller('sec-test')
class SecTestController {
  @Get('ping')
  ping(): { pong: true } {
    return { pong: true };
  }

  @Post('echo')
  echo(@Body() body: EchoDto): EchoDto {
    return body;
  }
}

const P = '/api/v14/lazy';

function expectErrorBody(body: Record<string, unknown>, code: string): void {
  expect(body).toMatchObject({ error: code, message: expect.any(String), request_id: expect.any(String), timestamp: expect.any(Number) });
}

describe(ApiKeyVerifier.name, () => {
  const sut = new ApiKeyVerifier(['alpha-key', 'beta-key-longer']);

  it('accepts each configured key and nothing else', () => {
    expect(sut.verify('alpha-key')).toBe(true);
    expect(sut.verify('beta-key-longer')).toBe(true);
    expect(sut.verify('alpha-ke')).toBe(false);
    expect(sut.verify('alpha-key ')).toBe(false);
    expect(sut.verify('')).toBe(false);
    expect(sut.verify(undefined)).toBe(false);
  });

  it('is disabled with no keys', () => {
    expect(new ApiKeyVerifier([]).enabled).toBe(false);
  });
});

describe('API keys (e2e)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    // Many wrong keys from one address here: the failed-authentication limit has its own spec.
    t = await createTestApp({ controllers: [SecTestController], env: { API_KEYS: 'k-one, k-two', RATE_LIMIT_AUTH_FAILURES: '0' } });
  });
  afterAll(async () => t.close());

  it('answers a request without a key with 401 unauthorized', async () => {
    const res = await http().get(`${P}/sec-test/ping`).expect(401);
    expectErrorBody(res.body, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('answers a wrong key with 401, in either header', async () => {
    await http().get(`${P}/sec-test/ping`).set('Authorization', 'Bearer k-three').expect(401);
    await http().get(`${P}/sec-test/ping`).set('X-API-Key', 'k-on').expect(401);
    await http().get(`${P}/sec-test/ping`).set('Authorization', 'Basic k-one').expect(401);
  });

  it('serves a request with a valid key as a bearer token or X-API-Key', async () => {
    await http().get(`${P}/sec-test/ping`).set('Authorization', 'Bearer k-one').expect(200, { pong: true });
    await http().get(`${P}/sec-test/ping`).set('authorization', 'bearer k-two').expect(200);
    await http().get(`${P}/sec-test/ping`).set('X-API-Key', 'k-two').expect(200);
  });

  it('never reads the body of an unauthenticated request', async () => {
    const res = await http().post(`${P}/sec-test/echo`).set('Content-Type', 'application/json').send('{not json').expect(401);
    expectErrorBody(res.body, 'unauthorized');
  });

  it('guards unknown routes, the OpenAPI document and Swagger UI too', async () => {
    await http().get(`${P}/no-such-route`).expect(401);
    await http().get('/openapi.json').expect(401);
    await http().get('/docs').expect(401);
    await http().get('/openapi.json').set('X-API-Key', 'k-one').expect(200);
  });

  it('leaves the probes open, and serves /metrics to a key', async () => {
    await http().get(`${P}/health/live`).expect(200);
    await http().get(`${P}/health/live/`).expect(200);
    await http().get(`${P}/health/ready`).expect(200);
    await http().get('/metrics').expect(401);
    await http().get('/metrics').set('Authorization', 'Bearer k-two').expect(200);
  });

  it('does not take another spelling of a public path as public', async () => {
    await http().get(`${P}/health/live/../../sec-test/ping`).expect(401);
    await http().get(`${P}/health/live%2f..%2f..%2fsec-test%2fping`).expect(401);
  });
});

describe('rate limiting (e2e)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp({ controllers: [SecTestController], env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' } });
  });
  afterAll(async () => t.close());

  it('answers the request over the limit with 429 rate_limited and Retry-After, across routes', async () => {
    await http().get(`${P}/sec-test/ping`).expect(200);
    await http().post(`${P}/sec-test/echo`).send({ hashtag_count: 2 }).expect(201);
    const third = await http().get(`${P}/sec-test/ping`).expect(200);
    expect(third.headers['x-ratelimit-remaining']).toBe('0');
    const res = await http().post(`${P}/sec-test/echo`).send({ hashtag_count: 2 }).expect(429);
    expectErrorBody(res.body, 'rate_limited');
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('never limits the probes or /metrics', async () => {
    for (let i = 0; i < 6; i++) {
      await http().get(`${P}/health/live`).expect(200);
      await http().get('/metrics').expect(200);
    }
  });
});

describe('rate limiting off (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ controllers: [SecTestController], env: { RATE_LIMIT_MAX: '0' } });
  });
  afterAll(async () => t.close());

  it('serves every request when RATE_LIMIT_MAX is 0', async () => {
    for (let i = 0; i < 20; i++) await request(t.app.getHttpServer()).get(`${P}/sec-test/ping`).expect(200);
  });
});

describe('CORS (e2e)', () => {
  let off: TestApp;
  let on: TestApp;

  beforeAll(async () => {
    off = await createTestApp({ controllers: [SecTestController] });
    on = await createTestApp({ controllers: [SecTestController], env: { CORS_ORIGINS: 'https://app.example', API_KEYS: 'k' } });
  });
  afterAll(async () => {
    await off.close();
    await on.close();
  });

  it('sends no CORS header by default', async () => {
    const res = await request(off.app.getHttpServer()).get(`${P}/sec-test/ping`).set('Origin', 'https://app.example').expect(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows a configured origin, answers its preflight without a key, and refuses others', async () => {
    const pre = await request(on.app.getHttpServer())
      .options(`${P}/sec-test/echo`)
      .set('Origin', 'https://app.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type, x-api-key');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(pre.headers['access-control-allow-headers']).toMatch(/X-API-Key/i);
    const res = await request(on.app.getHttpServer()).get(`${P}/sec-test/ping`).set('Origin', 'https://app.example').set('X-API-Key', 'k').expect(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.headers['access-control-expose-headers']).toMatch(/X-Request-Id/);
    const other = await request(on.app.getHttpServer()).get(`${P}/sec-test/ping`).set('Origin', 'https://evil.example').set('X-API-Key', 'k').expect(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('body limits after decompression (e2e)', () => {
  let t: TestApp;
  let port: number;
  const post = (headers: Record<string, string>, body: Buffer | string) =>
    rawRequest(port, 'POST', `${P}/sec-test/echo`, { 'content-type': 'application/json', ...headers }, body);

  beforeAll(async () => {
    t = await createTestApp({ controllers: [SecTestController], env: { BODY_LIMIT_BYTES: '4096' } });
    port = await listening(t.app);
  });
  afterAll(async () => t.close());

  it('takes a gzip body under the limit', async () => {
    const res = await post({ 'content-encoding': 'gzip' }, gzipSync(JSON.stringify({ hashtag_count: 5, pad: 'x'.repeat(1000) })));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ hashtag_count: 5 });
  });

  it('answers a gzip bomb (small on the wire, huge inflated) with 413', async () => {
    const bomb = gzipSync(JSON.stringify({ hashtag_count: 5, pad: ' '.repeat(50 * 1024 * 1024) }));
    expect(bomb.length).toBeLessThan(4096 * 20);
    const res = await post({ 'content-encoding': 'gzip' }, bomb);
    expect(res.status).toBe(413);
    expectErrorBody(res.body as Record<string, unknown>, 'payload_too_large');
  });

  it('answers an unknown Content-Encoding with 415', async () => {
    const res = await post({ 'content-encoding': 'zstd-x' }, '{}');
    expect(res.status).toBe(415);
    expectErrorBody(res.body as Record<string, unknown>, 'unsupported_media_type');
  });

  it('answers a corrupt gzip body with 400 malformed_json, not a 500', async () => {
    const res = await post({ 'content-encoding': 'gzip' }, Buffer.from('not gzip at all'));
    expect(res.status).toBe(400);
    expectErrorBody(res.body as Record<string, unknown>, 'malformed_json');
  });
});
