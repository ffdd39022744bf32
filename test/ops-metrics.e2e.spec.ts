import { Controller, Get, Param } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LazyLoaderService } from '../src/lazy-loader/lazy-loader.service.js';
import { Gauge } from 'prom-client';
import { metricsRegistry } from '../src/common/metrics/metrics.js';
import { createTestApp, type TestApp } from './support/test-app.js';

@Controller('metrics-test')
class MetricsTestController {
  @Get('items/:id')
  item(@Param('id') id: string): { id: string } {
    return { id };
  }
}

const P = '/api/v14/lazy';

/** The value of one sample line (`name{labels} value`) of the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const rest = line.slice(name.length);
    const labelPart = rest.startsWith('{') ? rest.slice(0, rest.indexOf('}') + 1) : '';
    if (wanted.every((w) => labelPart.includes(w))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

describe('GET /metrics (e2e)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp({ controllers: [MetricsTestController], env: { API_KEYS: 'k' } });
  });
  afterAll(async () => t.close());

  /** A scrape, with the API key the app is configured with. */
  const scrape = () => http().get('/metrics').set('X-API-Key', 'k');

  it('serves the Prometheus text format at the root, to a request with a key', async () => {
    await http().get('/metrics').expect(401);
    const res = await scrape().expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toMatch(/^# HELP /m);
    await http().get(`${P}/metrics`).expect(401);
  });

  it('writes a sample with no value yet as NaN (strict OpenMetrics parsers refuse prom-client\'s Nan)', async () => {
    const empty = new Gauge({ name: 'contract_test_empty_mean', help: 'A mean before its first sample', registers: [metricsRegistry] });
    try {
      empty.set(NaN);
      const text = (await scrape().expect(200)).text;
      expect(text).toMatch(/^contract_test_empty_mean NaN$/m);
      expect(text).not.toMatch(/ Nan$/m);
    } finally {
      metricsRegistry.removeSingleMetric('contract_test_empty_mean');
    }
  });

  it('labels request durations by route template and status class, never the raw URL', async () => {
    for (const id of ['a1', 'b2', 'c3']) await http().get(`${P}/metrics-test/items/${id}`).set('X-API-Key', 'k').expect(200);
    await http().get(`${P}/metrics-test/items/zz`).expect(401);
    await http().get(`${P}/no-such/${'x'.repeat(20)}`).set('X-API-Key', 'k').expect(404);
    const text = (await scrape().expect(200)).text;
    const name = 'http_server_request_duration_seconds_count';
    expect(sample(text, name, { method: 'GET', route: `${P}/metrics-test/items/:id`, status_class: '2xx' })).toBe(3);
    expect(sample(text, name, { method: 'GET', route: 'unmatched', status_class: '4xx' })).toBeGreaterThanOrEqual(2);
    expect(text).not.toContain('items/a1');
    expect(text).not.toContain('x'.repeat(20));
    expect(text).toMatch(/http_server_request_duration_seconds_bucket\{le="0\.005",method="GET",route="[^"]+",status_class="2xx"\}/);
  });

  it('exposes process metrics and the lazy loader by tier, with its load-time histogram', async () => {
    const loader = t.app.get(LazyLoaderService);
    const src = { key: 'metrics-src', chunkSize: 5, loadChunk: async (i: number) => [i, i + 1] };
    await loader.getChunk(src, 0);
    await loader.getChunk(src, 0);
    await loader.getChunk(src, 1);
    await loader.flush();
    const text = (await scrape().expect(200)).text;
    for (const metric of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'http_active_streams']) {
      expect(text, metric).toContain(`# TYPE ${metric}`);
    }
    expect(sample(text, 'lazy_loader_cache_hits_total', { tier: 'memory' })).toBe(1);
    expect(sample(text, 'lazy_loader_cache_misses_total', { tier: 'memory' })).toBe(2);
    expect(sample(text, 'lazy_loader_cache_entries', { tier: 'memory' })).toBe(2);
    expect(sample(text, 'lazy_loader_cache_bytes', { tier: 'memory' })).toBeGreaterThan(0);
    expect(sample(text, 'lazy_loader_cache_evictions_total', { tier: 'disk' })).toBe(0);
    expect(sample(text, 'lazy_loader_chunk_load_duration_seconds_count', { outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(text).toContain('# TYPE lazy_loader_chunk_load_duration_seconds histogram');
  });

  it('counts caption generations by engine, batch items by outcome and stream endings after real traffic', async () => {
    const key = { 'X-API-Key': 'k' };
    const before = (await scrape()).text;
    const generated = (t: string) => sample(t, 'caption_generations_total', { engine: 'template-engine@2.0.0' }) ?? 0;
    await http().post(`${P}/captions`).set(key).send({ content_description: 'Lavender fields at golden hour', variation_count: 3, request_id: 'metrics-1' }).expect(200);
    await http()
      .post(`${P}/batch-process`)
      .set(key)
      .send({ requests: [{ content_description: 'Snowy cabin with a crackling fire' }, { content_description: 'no' }] })
      .expect(200);
    await http().post(`${P}/stream-captions?variations=2`).set(key).send({ content_description: 'Street tacos at midnight' }).expect(200);
    // A stream is counted when its socket closes, which the server sees just after the client read the end.
    await vi.waitFor(async () => {
      const text = (await scrape().expect(200)).text;
      expect(generated(text) - generated(before)).toBeGreaterThanOrEqual(3);
      expect(sample(text, 'batch_items_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/batch_items_total\{outcome="(succeeded|below_threshold)"\} [1-9]/);
      expect(sample(text, 'http_streams_ended_total', { route: 'POST /stream-captions', outcome: 'completed' })).toBe(1);
      expect(sample(text, 'http_server_request_duration_seconds_count', { method: 'POST', route: `${P}/batch-process`, status_class: '2xx' })).toBe(1);
    });
  });
});
