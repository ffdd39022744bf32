import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LazyLoaderService } from '../src/lazy-loader/lazy-loader.service.js';
import { apiClient, expectMatchesSpec } from './support/api-client.js';
import { listening } from './support/raw-request.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const P = '/api/v14/lazy';
const committed = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'));

/** Every API route registered on Express (Swagger UI's own routes aside), as `METHOD /path/{param}`. */
function registeredRoutes(t: TestApp): string[] {
  const router = t.app.getHttpAdapter().getInstance().router as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
  return router.stack
    // Nest's middleware layers for the prefix and root routes take every method: routes take one.
    .filter((l) => l.route && Object.keys(l.route.methods).length === 1 && !l.route.path.startsWith('/docs') && l.route.path !== '/openapi.json')
    .map((l) => `${Object.keys(l.route!.methods)[0]!.toUpperCase()} ${l.route!.path.replace(/:(\w+)/g, '{$1}')}`);
}

describe('OpenAPI document (e2e)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('serves at /openapi.json exactly the committed openapi.json (run `npm run openapi` after changing the API)', async () => {
    const res = await http().get('/openapi.json').expect(200);
    expect(res.body.openapi).toBe('3.2.0');
    expect(res.body).toEqual(committed);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await http().get('/docs').redirects(1).expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
  });

  it('describes every registered route with a success and the error responses, errors as ErrorBody', () => {
    const documented = Object.entries(committed.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>);
    const listed = new Set(documented.flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)));
    const routes = registeredRoutes(t);
    expect(routes.length).toBeGreaterThan(5);
    for (const route of routes) expect(listed, route).toContain(route);
    for (const [path, item] of documented) {
      for (const [method, op] of Object.entries(item)) {
        const codes = Object.keys(op.responses);
        expect(codes.some((c) => c.startsWith('2')), `${method} ${path}`).toBe(true);
        expect(codes, `${method} ${path}`).toContain('500');
        if (!path.startsWith(`${P}/health`) && path !== '/metrics') expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['401', '429']));
        for (const c of codes.filter((c) => Number(c) >= 400)) {
          const schema = op.responses[c]!.content?.['application/json']?.schema;
          expect(JSON.stringify(schema), `${method} ${path} ${c}`).toContain('#/components/schemas/ErrorBody');
        }
      }
    }
  });
});

describe('monitoring through the generated client (e2e)', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp({ env: { API_KEYS: 'client-key' } });
    port = await listening(t.app);
  });
  afterAll(async () => t.close());

  it('reads the probes, stats and cache routes with typed bodies that match the spec', async () => {
    const client = apiClient(port, { 'X-API-Key': 'client-key' });
    const loader = t.app.get(LazyLoaderService);
    await loader.getChunk({ key: 'client', chunkSize: 2, loadChunk: async () => [1, 2] }, 0);

    const live = await client.GET('/api/v14/lazy/health/live');
    expect(live.data?.status).toBe('ok');
    expectMatchesSpec('GET', `${P}/health/live`, 200, live.data);

    const ready = await client.GET('/api/v14/lazy/health/ready');
    expect(ready.response.status).toBe(200);
    expectMatchesSpec('GET', `${P}/health/ready`, 200, ready.data);

    const health = await client.GET('/api/v14/lazy/health');
    expect(health.data?.status).toBe('healthy');
    expectMatchesSpec('GET', `${P}/health`, 200, health.data);

    const stats = await client.GET('/api/v14/lazy/stats');
    expect(stats.data?.total_chunks_loaded).toBe(1);
    expect(stats.data?.cache_hit_rate).toBeLessThanOrEqual(1);
    expectMatchesSpec('GET', `${P}/stats`, 200, stats.data);

    const status = await client.GET('/api/v14/lazy/cache/status');
    expect(status.data?.memory.entries).toBe(1);
    expectMatchesSpec('GET', `${P}/cache/status`, 200, status.data);

    const cleared = await client.POST('/api/v14/lazy/cache/clear');
    expect(cleared.data?.memory_entries_removed).toBe(1);
    expectMatchesSpec('POST', `${P}/cache/clear`, 200, cleared.data);
  });

  it('gets the documented error body for a request without a key', async () => {
    const res = await apiClient(port).GET('/api/v14/lazy/stats');
    expect(res.response.status).toBe(401);
    expect(res.error?.error).toBe('unauthorized');
    expectMatchesSpec('GET', `${P}/stats`, 401, res.error);
  });
});
