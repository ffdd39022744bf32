import { Body, Controller, Get, Post } from '@nestjs/common';
import { IsInt, Max, Min } from 'class-validator';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/test-app.js';

class EchoDto {
  @IsInt() @Min(1) @Max(30)
  hashtag_count!: number;
}

@Controller('test-only')
class TestOnlyController {
  @Get('boom')
  boom(): never {
    throw new Error('secret at /srv/app/db.ts: SELECT * FROM users');
  }

  @Post('echo')
  echo(@Body() body: EchoDto): EchoDto {
    return body;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function expectErrorBody(body: Record<string, unknown>, code: string) {
  expect(body.error).toBe(code);
  expect(typeof body.message).toBe('string');
  expect(typeof body.request_id).toBe('string');
  expect(typeof body.timestamp).toBe('number');
}

describe('foundation (e2e)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp({ controllers: [TestOnlyController], env: { BODY_LIMIT_BYTES: '2048' } });
  });
  afterAll(async () => t.close());

  it('answers liveness with 200 {"status":"ok"}', async () => {
    const res = await http().get('/api/v14/lazy/health/live').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('answers an unknown route with 404 and the error body', async () => {
    const res = await http().get('/api/v14/lazy/no-such-route').expect(404);
    expectErrorBody(res.body, 'not_found');
  });

  it('answers malformed JSON with 400 malformed_json', async () => {
    const res = await http()
      .post('/api/v14/lazy/test-only/echo')
      .set('Content-Type', 'application/json')
      .send('{"hashtag_count": ')
      .expect(400);
    expectErrorBody(res.body, 'malformed_json');
  });

  it('answers a body over the limit with 413 payload_too_large', async () => {
    const res = await http()
      .post('/api/v14/lazy/test-only/echo')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ hashtag_count: 1, pad: 'x'.repeat(4096) }))
      .expect(413);
    expectErrorBody(res.body, 'payload_too_large');
  });

  it('answers an unknown field with 422 naming it', async () => {
    const res = await http().post('/api/v14/lazy/test-only/echo').send({ hashtag_count: 3, colour: 'red' }).expect(422);
    expectErrorBody(res.body, 'validation_failed');
    expect(res.body.details).toEqual([{ field: 'colour', message: 'should not exist' }]);
  });

  it('gives one detail per bad field', async () => {
    const res = await http().post('/api/v14/lazy/test-only/echo').send({ hashtag_count: 31 }).expect(422);
    expect(res.body.details).toEqual([{ field: 'hashtag_count', message: 'must not be greater than 30' }]);
    expect(res.body.message).toBe('hashtag_count must not be greater than 30');
  });

  it('answers a non-JSON body with 415', async () => {
    const res = await http()
      .post('/api/v14/lazy/test-only/echo')
      .set('Content-Type', 'text/plain')
      .send('hashtag_count=3')
      .expect(415);
    expectErrorBody(res.body, 'unsupported_media_type');
  });

  it('rejects prototype keys and deep nesting with 422, leaving Object.prototype alone', async () => {
    const res = await http()
      .post('/api/v14/lazy/test-only/echo')
      .set('Content-Type', 'application/json')
      .send('{"hashtag_count": 3, "__proto__": {"polluted": true}}')
      .expect(422);
    expect(res.body.details[0].field).toBe('__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const deep = '{"a":'.repeat(200) + '1' + '}'.repeat(200);
    await http().post('/api/v14/lazy/test-only/echo').set('Content-Type', 'application/json').send(deep).expect(422);
  });

  it('trims strings before validation', async () => {
    const res = await http().post('/api/v14/lazy/test-only/echo').send({ hashtag_count: '  4 ' }).expect(422);
    expect(res.body.details[0].field).toBe('hashtag_count');
  });

  it('echoes a valid X-Request-Id and makes one when absent or invalid', async () => {
    const reused = await http().get('/api/v14/lazy/health/live').set('X-Request-Id', 'abc-123.x').expect(200);
    expect(reused.headers['x-request-id']).toBe('abc-123.x');
    const made = await http().get('/api/v14/lazy/health/live').expect(200);
    expect(made.headers['x-request-id']).toMatch(UUID);
    const bad = await http().get('/api/v14/lazy/health/live').set('X-Request-Id', 'bad id with spaces').expect(200);
    expect(bad.headers['x-request-id']).toMatch(UUID);
    const err = await http().get('/api/v14/lazy/nope').set('X-Request-Id', 'trace-42').expect(404);
    expect(err.body.request_id).toBe('trace-42');
  });

  it('answers a thrown bug with 500 internal_error and no stack, SQL or path', async () => {
    const res = await http().get('/api/v14/lazy/test-only/boom').expect(500);
    expectErrorBody(res.body, 'internal_error');
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/secret|SELECT|\/srv\/|at .*\.ts/);
  });
});
