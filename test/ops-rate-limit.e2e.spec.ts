import { Body, Controller, Get, Post } from '@nestjs/common';
import { IsInt, IsOptional, IsString } from 'class-validator';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from './support/test-app.js';

class EchoDto {
  @IsOptional() @IsInt()
  n?: number;

  @IsOptional() @IsString()
  pad?: string;
}

/** Requests parked in `hold` until the spec lets them go: "in flight" without timing. */
const held = { count: 0, release: () => undefined as void, gate: Promise.resolve() };
function closeGate() {
  held.gate = new Promise<void>((resolve) => (held.release = resolve));
}

@Controller('rl-test')
class RateLimitTestController {
  @Get('ping')
  ping(): { pong: true } {
    return { pong: true };
  }

  @Post('echo')
  echo(@Body() body: EchoDto): EchoDto {
    return body;
  }

  @Get('hold')
  async hold(): Promise<{ held: true }> {
    held.count += 1;
    try {
      await held.gate;
    } finally {
      held.count -= 1;
    }
    return { held: true };
  }
}

const P = '/api/v14/lazy';
const caption = (i: number, variation_count: number) => ({ content_description: `Lantern-lit alley number ${i} after rain`, variation_count, request_id: `rl-${i}` });

describe('rate limit (e2e)', () => {
  let t: TestApp | undefined;
  const start = async (env: Record<string, string>) => {
    t = await createTestApp({ controllers: [RateLimitTestController], env });
    return () => request(t!.app.getHttpServer());
  };
  afterEach(async () => {
    held.release();
    await t?.close();
    t = undefined;
  });

  it('counts 401, 404, 400 and 413 answers against the budget', async () => {
    const http = await start({ RATE_LIMIT_MAX: '4', RATE_LIMIT_AUTH_FAILURES: '0', API_KEYS: 'k', BODY_LIMIT_BYTES: '1024' });
    await http().get(`${P}/rl-test/ping`).set('X-API-Key', 'wrong').expect(401);
    await http().get(`${P}/no-such-route`).set('X-API-Key', 'k').expect(404);
    await http().post(`${P}/rl-test/echo`).set('X-API-Key', 'k').set('Content-Type', 'application/json').send('{not json').expect(400);
    await http().post(`${P}/rl-test/echo`).set('X-API-Key', 'k').send({ pad: 'x'.repeat(2000) }).expect(413);
    const res = await http().get(`${P}/rl-test/ping`).set('X-API-Key', 'k').expect(429);
    expect(res.body).toMatchObject({ error: 'rate_limited' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('refuses an address after RATE_LIMIT_AUTH_FAILURES failed authentications, even with a valid key', async () => {
    const http = await start({ RATE_LIMIT_MAX: '1000', RATE_LIMIT_AUTH_FAILURES: '3', API_KEYS: 'k' });
    for (let i = 0; i < 3; i++) await http().get(`${P}/rl-test/ping`).set('X-API-Key', `guess-${i}`).expect(401);
    await http().get(`${P}/rl-test/ping`).set('X-API-Key', 'guess-4').expect(429);
    const res = await http().get(`${P}/rl-test/ping`).set('X-API-Key', 'k').expect(429);
    expect(res.body.message).toMatch(/failed authentications/);
    // One failure's worth refills in a third of the window.
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(15);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(20);
    await http().get(`${P}/health/live`).expect(200);
  });

  it('charges POST /stream-captions one unit per variation', async () => {
    const http = await start({ RATE_LIMIT_MAX: '20' });
    const first = await http().post(`${P}/stream-captions?variations=15`).send({ content_description: 'Street tacos at midnight' }).expect(200);
    expect(Number(first.headers['x-ratelimit-remaining'])).toBe(5);
    const res = await http().post(`${P}/stream-captions?variations=10`).send({ content_description: 'Street tacos at midnight' }).expect(429);
    expect(res.body).toMatchObject({ error: 'rate_limited' });
    expect(res.body.message).toMatch(/10 units/);
  });

  it('charges POST /captions its variation_count', async () => {
    const http = await start({ RATE_LIMIT_MAX: '10' });
    await http().post(`${P}/captions`).send({ content_description: 'Lavender fields at golden hour', variation_count: 8 }).expect(200);
    await http().post(`${P}/captions`).send({ content_description: 'Lavender fields at golden hour', variation_count: 3 }).expect(429);
  });

  it('charges a JSON batch its requests times their variations, before any work starts', async () => {
    const http = await start({ RATE_LIMIT_MAX: '30' });
    const body = { requests: [0, 1, 2, 3].map((i) => caption(i, 5)) };
    const first = await http().post(`${P}/batch-process`).send(body).expect(200);
    expect(Number(first.headers['x-ratelimit-remaining'])).toBe(10);
    const res = await http().post(`${P}/batch-process`).send(body).expect(429);
    expect(res.body).toMatchObject({ error: 'rate_limited' });
  });

  it('admits a batch larger than the whole budget only with a full bucket, then the client waits out the debt', async () => {
    const http = await start({ RATE_LIMIT_MAX: '10' });
    await http().post(`${P}/batch-process`).send({ requests: [0, 1, 2, 3].map((i) => caption(i, 5)) }).expect(200);
    const res = await http().get(`${P}/rl-test/ping`).expect(429);
    // 20 units spent from a bucket of 10 filling at 10 a minute: about 66 s until one unit is back.
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(60);
  });

  it('charges an NDJSON upload item by item: the items past the budget fail with rate_limited, the others succeed', async () => {
    const http = await start({ RATE_LIMIT_MAX: '10' });
    const lines = [0, 1, 2, 3, 4].map((i) => JSON.stringify(caption(i, 3))).join('\n');
    const res = await http()
      .post(`${P}/batch-process`)
      .set('Content-Type', 'application/x-ndjson')
      .set('Accept', 'application/x-ndjson')
      .send(lines)
      .expect(200);
    const items = res.text.trim().split('\n').map((l) => JSON.parse(l) as { success?: boolean; error?: { code: string }; batch_id?: string });
    const results = items.filter((i) => i.batch_id === undefined);
    // 1 unit for the request, then 3 per item: three items fit in 10.
    expect(results.filter((i) => i.success)).toHaveLength(3);
    expect(results.filter((i) => !i.success).map((i) => i.error?.code)).toEqual(['rate_limited', 'rate_limited']);
  });

  it('caps the requests in flight per address at RATE_LIMIT_MAX_CONCURRENT', async () => {
    const http = await start({ RATE_LIMIT_MAX_CONCURRENT: '2', RATE_LIMIT_MAX: '0' });
    closeGate();
    const parked = [http().get(`${P}/rl-test/hold`), http().get(`${P}/rl-test/hold`)].map((r) => r.then((res) => res.status));
    await vi.waitFor(() => expect(held.count).toBe(2));
    const res = await http().get(`${P}/rl-test/ping`).expect(429);
    expect(res.body.message).toMatch(/in progress/);
    held.release();
    expect(await Promise.all(parked)).toEqual([200, 200]);
    await http().get(`${P}/rl-test/ping`).expect(200);
  });

  it('with TRUST_PROXY, counts each client named by X-Forwarded-For on its own', async () => {
    const http = await start({ RATE_LIMIT_MAX: '2', TRUST_PROXY: 'loopback' });
    for (let i = 0; i < 2; i++) await http().get(`${P}/rl-test/ping`).set('X-Forwarded-For', '203.0.113.7').expect(200);
    await http().get(`${P}/rl-test/ping`).set('X-Forwarded-For', '203.0.113.7').expect(429);
    await http().get(`${P}/rl-test/ping`).set('X-Forwarded-For', '203.0.113.8').expect(200);
  });

  it('without TRUST_PROXY, ignores X-Forwarded-For: a client cannot pick its own bucket', async () => {
    const http = await start({ RATE_LIMIT_MAX: '2' });
    for (let i = 0; i < 2; i++) await http().get(`${P}/rl-test/ping`).set('X-Forwarded-For', `203.0.113.${i}`).expect(200);
    await http().get(`${P}/rl-test/ping`).set('X-Forwarded-For', '203.0.113.99').expect(429);
  });
});
