import { Controller, Get, Query } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/test-app.js';
import { LazyLoaderModule } from '../src/lazy-loader/lazy-loader.module.js';
import { LazyLoaderService } from '../src/lazy-loader/lazy-loader.service.js';

/** A test-only route that reads through the real service, as the feature modules do. */
@Controller('loader-probe')
class LoaderProbeController {
  constructor(private readonly loader: LazyLoaderService) {}

  @Get()
  async read(@Query('mode') mode: string) {
    const chunk = await this.loader.getChunk(
      {
        key: `probe:${mode}`,
        chunkSize: 2,
        loadChunk: (index) =>
          mode === 'hang' ? new Promise<number[]>(() => undefined) : mode === 'fail' ? Promise.reject(new Error('db down at /var/lib/x')) : Promise.resolve([index, index + 1]),
      },
      0,
    );
    return { items: chunk.items, tier: chunk.tier };
  }
}

describe(`${LazyLoaderService.name} over HTTP`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { LAZY_LOAD_TIMEOUT: '0.05', LAZY_RETRY_ATTEMPTS: '1' }, controllers: [LoaderProbeController], imports: [LazyLoaderModule] });
  });
  afterAll(() => t.close());

  it('serves data through the tiers of the real app', async () => {
    const first = await request(t.app.getHttpServer()).get('/api/v14/lazy/loader-probe?mode=ok').expect(200);
    const second = await request(t.app.getHttpServer()).get('/api/v14/lazy/loader-probe?mode=ok').expect(200);
    expect([first.body.tier, second.body.tier, second.body.items]).toEqual(['source', 'memory', [0, 1]]);
  });

  it('turns a load that times out into a 504 load_timeout, not a hang', async () => {
    const res = await request(t.app.getHttpServer()).get('/api/v14/lazy/loader-probe?mode=hang').expect(504);
    expect(res.body).toMatchObject({ error: 'load_timeout' });
  });

  it('turns a failing source into a 503 load_failed that leaks nothing', async () => {
    const res = await request(t.app.getHttpServer()).get('/api/v14/lazy/loader-probe?mode=fail').expect(503);
    expect(res.body).toMatchObject({ error: 'load_failed' });
    expect(JSON.stringify(res.body)).not.toContain('/var/lib');
  });
});
