import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/test-app.js';
import { freePort } from './support/free-port.js';

const P = '/api/v14/lazy';
const TOKEN = 'metrics-token-0123456789';

/** A port nothing listens on right now. */
describe('production posture (e2e)', () => {
  let t: TestApp | undefined;
  const start = async (env: Record<string, string>) => {
    t = await createTestApp({ env });
    return () => request(t!.app.getHttpServer());
  };
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  describe('/metrics', () => {
    it('asks for METRICS_TOKEN as a bearer token when it is set', async () => {
      const http = await start({ METRICS_TOKEN: TOKEN });
      const res = await http().get('/metrics').expect(401);
      expect(res.body).toMatchObject({ error: 'unauthorized' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      await http().get('/metrics').set('Authorization', 'Bearer not-the-token-at-all').expect(401);
      const ok = await http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      expect(ok.text).toContain('# TYPE process_cpu_user_seconds_total');
    });

    it('takes an API key too when keys are configured', async () => {
      const http = await start({ METRICS_TOKEN: TOKEN, API_KEYS: 'key-1' });
      await http().get('/metrics').set('X-API-Key', 'key-1').expect(200);
      await http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      await http().get('/metrics').set('X-API-Key', 'key-2').expect(401);
    });

    it('never names the runtime version to a caller that did not authenticate', async () => {
      const http = await start({});
      const open = await http().get('/metrics').expect(200);
      expect(open.text).toContain('# TYPE process_cpu_user_seconds_total');
      expect(open.text).not.toContain('nodejs_version_info');
      expect(open.text).not.toContain(process.version);
    });

    it('names it to one that did', async () => {
      const http = await start({ METRICS_TOKEN: TOKEN });
      const full = await http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      expect(full.text).toContain(`nodejs_version_info{version="${process.version}"`);
    });

    it('moves to METRICS_PORT when it is set: the main port answers 404, the metrics port the scrape', async () => {
      const port = await freePort();
      const http = await start({ METRICS_PORT: String(port), METRICS_TOKEN: TOKEN });
      await http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(404);
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await res.text()).toContain('# TYPE process_cpu_user_seconds_total');
      const other = await fetch(`${base}${P}/health/live`);
      expect(other.status).toBe(404);
      expect(await other.json()).toMatchObject({ error: 'not_found' });
      await t!.close();
      t = undefined;
      await expect(fetch(`${base}/metrics`)).rejects.toThrow();
    });
  });

  describe('Swagger UI', () => {
    it('is off in production: /docs is a 404, the OpenAPI document is still served', async () => {
      const http = await start({ NODE_ENV: 'production', API_KEYS: 'k' });
      await http().get('/docs').set('X-API-Key', 'k').expect(404);
      await http().get('/openapi.json').set('X-API-Key', 'k').expect(200);
    });

    it('is on in production with SWAGGER_ENABLED=true', async () => {
      const http = await start({ NODE_ENV: 'production', API_KEYS: 'k', SWAGGER_ENABLED: 'true' });
      const res = await http().get('/docs').set('X-API-Key', 'k').redirects(1).expect(200);
      expect(res.text).toContain('swagger-ui');
    });
  });

  describe('probe bodies', () => {
    it('give figures to a caller with a valid API key only; the status codes are the same for all', async () => {
      const http = await start({ API_KEYS: 'k', LAZY_DATA_SIZE: 'medium' });
      const anonymous = await http().get(`${P}/health`).expect(200);
      expect(anonymous.body).toEqual({ status: 'healthy', lazy_loader: 'operational', timestamp: expect.any(Number) });
      const withKey = await http().get(`${P}/health`).set('X-API-Key', 'k').expect(200);
      expect(withKey.body).toMatchObject({ memory_usage_mb: expect.any(Number), active_resources: expect.any(Number) });
      const wrongKey = await http().get(`${P}/health`).set('X-API-Key', 'nope').expect(200);
      expect(wrongKey.body).not.toHaveProperty('memory_usage_mb');

      const ready = await http().get(`${P}/health/ready`).expect(200);
      expect(ready.body.details).toEqual({ database: { status: 'up' }, disk_cache: { status: 'up' }, memory: { status: 'up' } });
      expect(JSON.stringify(ready.body)).not.toMatch(/_mb|entries/);
      const readyWithKey = await http().get(`${P}/health/ready`).set('X-API-Key', 'k').expect(200);
      expect(readyWithKey.body.details.disk_cache).toMatchObject({ free_mb: expect.any(Number), entries: expect.any(Number) });
      expect(readyWithKey.body.details.memory).toMatchObject({ rss_mb: expect.any(Number), heap_used_mb: expect.any(Number) });
    });

    it('name a failed check without its figures to a caller without a key', async () => {
      const http = await start({ API_KEYS: 'k', LAZY_MAX_MEMORY_MB: '1' });
      const res = await http().get(`${P}/health/ready`).expect(503);
      expect(res.body.details).toEqual([{ field: 'memory', message: 'resident memory over the limit' }]);
      const health = await http().get(`${P}/health`).expect(503);
      expect(JSON.stringify(health.body)).not.toMatch(/\d+(\.\d+)? MB/);
      const withKey = await http().get(`${P}/health/ready`).set('X-API-Key', 'k').expect(503);
      expect(withKey.body.details[0].message).toMatch(/^resident memory [\d.]+ MB is over the 1 MB limit$/);
    });

    it('give no figures in production without API keys (no one is authenticated)', async () => {
      const http = await start({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' });
      const res = await http().get(`${P}/health`).expect(200);
      expect(res.body).not.toHaveProperty('memory_usage_mb');
    });
  });

  describe('POST /cache/clear', () => {
    it('is refused in production without API keys, even when anonymous clients are allowed', async () => {
      const http = await start({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' });
      const res = await http().post(`${P}/cache/clear`).expect(403);
      expect(res.body).toMatchObject({ error: 'forbidden' });
      await http().get(`${P}/cache/status`).expect(200);
    });

    it('is served in production with a key', async () => {
      const http = await start({ NODE_ENV: 'production', API_KEYS: 'k' });
      await http().post(`${P}/cache/clear`).expect(401);
      await http().post(`${P}/cache/clear`).set('X-API-Key', 'k').expect(200);
    });
  });
});
