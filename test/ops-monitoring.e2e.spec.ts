import { rmSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryRepository } from '../src/history/history.repository.js';
import { LazyLoaderService } from '../src/lazy-loader/lazy-loader.service.js';
import type { ChunkSource } from '../src/lazy-loader/lazy-loader.types.js';
import { ShutdownState } from '../src/common/lifecycle/shutdown-state.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const P = '/api/v14/lazy';

/** A source of numbers that counts its calls, so the figures can be checked against the truth. */
function numbers(key: string, chunkSize = 10): ChunkSource<number> & { calls: number } {
  const src = {
    key,
    chunkSize,
    calls: 0,
    async loadChunk(index: number, ctx: { chunkSize: number }) {
      src.calls++;
      return Array.from({ length: ctx.chunkSize }, (_, i) => index * ctx.chunkSize + i);
    },
  };
  return src;
}

const GUIDE_STATS_KEYS = [
  'total_chunks_loaded', 'total_pages_loaded', 'total_streams', 'cache_hits', 'disk_cache_hits',
  'compression_savings', 'memory_usage_mb', 'avg_chunk_load_time', 'avg_page_load_time', 'active_chunks',
  'active_pages', 'active_streams', 'background_tasks', 'disk_cache_size_mb', 'cache_hit_rate',
];

describe('probes (e2e)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp({ env: { LAZY_DATA_SIZE: 'medium' } });
  });
  afterAll(async () => t.close());

  it('answers liveness, readiness and the health route with 200 when healthy', async () => {
    await http().get(`${P}/health/live`).expect(200, { status: 'ok' });
    const ready = await http().get(`${P}/health/ready`).expect(200);
    expect(ready.body.status).toBe('ok');
    expect(ready.body.details.disk_cache).toMatchObject({ status: 'up', enabled: true });
    expect(ready.body.details.memory.status).toBe('up');
    expect(ready.headers['cache-control']).toBe('no-store');
    const health = await http().get(`${P}/health`).expect(200);
    expect(health.body).toEqual({
      status: 'healthy',
      lazy_loader: 'operational',
      memory_usage_mb: expect.any(Number),
      active_resources: expect.any(Number),
      timestamp: expect.any(Number),
    });
    expect(Math.abs(health.body.timestamp - Date.now() / 1000)).toBeLessThan(5);
  });

  it('answers 503 unhealthy naming the disk cache when its directory is gone, and recovers', async () => {
    const loader = t.app.get(LazyLoaderService);
    rmSync(loader.config.disk_cache_dir, { recursive: true, force: true });
    const ready = await http().get(`${P}/health/ready`).expect(503);
    expect(ready.body).toMatchObject({ error: 'unhealthy', details: [{ field: 'disk_cache', message: 'disk cache directory not writable' }] });
    expect(JSON.stringify(ready.body)).not.toContain(loader.config.disk_cache_dir);
    const health = await http().get(`${P}/health`).expect(503);
    expect(health.body).toMatchObject({ status: 'unhealthy', lazy_loader: 'degraded', error: 'unhealthy', request_id: expect.any(String) });
    await http().get(`${P}/health/live`).expect(200);
  });
});

describe('probes with the SQLite database closed (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('answers readiness and health with 503 naming the database, liveness still 200', async () => {
    const http = () => request(t.app.getHttpServer());
    await http().get(`${P}/health/ready`).expect(200);
    await t.app.get(HistoryRepository).close();
    const ready = await http().get(`${P}/health/ready`).expect(503);
    expect(ready.body).toMatchObject({ error: 'unhealthy', details: [{ field: 'database', message: 'database unreachable' }] });
    await http().get(`${P}/health`).expect(503);
    await http().get(`${P}/health/live`).expect(200);
  });
});

/** A TCP proxy in front of PostgreSQL that can be cut and restored: a real outage, on demand. */
async function outageProxy(target: URL): Promise<{ port: number; cut(): void; restore(): Promise<void>; close(): void }> {
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  const cut = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return { port, cut, restore: listen, close: cut };
}

const PG_URL = process.env.TEST_DATABASE_URL;
if (!PG_URL) console.warn('SKIPPED: probes with PostgreSQL down (set TEST_DATABASE_URL to run them)');

describe.skipIf(!PG_URL)('probes with PostgreSQL down (e2e)', () => {
  let t: TestApp;
  let proxy: Awaited<ReturnType<typeof outageProxy>>;
  const schema = `ops_probe_${process.pid}_${Date.now()}`;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const target = new URL(PG_URL!);
    proxy = await outageProxy(target);
    const url = new URL(PG_URL!);
    url.host = `127.0.0.1:${proxy.port}`;
    url.searchParams.set('options', `-c search_path=${schema}`);
    t = await createTestApp({ env: { DATABASE_URL: url.toString() } });
  });
  afterAll(async () => {
    proxy.close();
    await proxy.restore();
    await t.close();
    proxy.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  it('is ready while the database answers, 503 naming it while cut off, ready again after', async () => {
    const http = () => request(t.app.getHttpServer());
    await http().get(`${P}/health/ready`).expect(200);
    proxy.cut();
    const down = await http().get(`${P}/health/ready`).expect(503);
    expect(down.body.details).toEqual([{ field: 'database', message: 'database unreachable' }]);
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/);
    await http().get(`${P}/health/live`).expect(200);
    await proxy.restore();
    await http().get(`${P}/health/ready`).expect(200);
  });
});

describe('probes over the memory limit (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // A 1 MB budget: the process's resident memory is far over it.
    t = await createTestApp({ env: { LAZY_MAX_MEMORY_MB: '1' } });
  });
  afterAll(async () => t.close());

  it('answers readiness with 503 naming memory, liveness still 200', async () => {
    const res = await request(t.app.getHttpServer()).get(`${P}/health/ready`).expect(503);
    expect(res.body.details).toEqual([{ field: 'memory', message: expect.stringMatching(/^resident memory [\d.]+ MB is over the 1 MB limit$/) }]);
    await request(t.app.getHttpServer()).get(`${P}/health/live`).expect(200);
  });
});

describe('probes while shutting down (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('answers readiness and health with 503 not_ready at once, liveness 200, and keeps serving', async () => {
    const http = () => request(t.app.getHttpServer());
    // A keep-alive connection that served a request before shutdown began.
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = (path: string) =>
      new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
        const req = httpGet({ host: '127.0.0.1', port, path, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
        });
        req.on('error', reject);
      });
    expect((await viaAgent(`${P}/stats`)).status).toBe(200);
    t.app.get(ShutdownState).enter('draining');
    const ready = await http().get(`${P}/health/ready`).expect(503);
    expect(ready.body).toMatchObject({ error: 'not_ready', message: 'The server is shutting down' });
    expect(ready.headers.connection).toBe('close');
    const health = await http().get(`${P}/health`).expect(503);
    expect(health.body).toMatchObject({ status: 'unhealthy', error: 'not_ready' });
    await http().get(`${P}/stats`).expect(200);
    t.app.get(ShutdownState).enter('closing');
    // A request on a connection that already carried one is refused, so its client retries elsewhere...
    const late = await viaAgent(`${P}/stats`);
    expect(late.reused).toBe(true);
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body)).toMatchObject({ error: 'not_ready' });
    agent.destroy();
    // ...while the first request of a connection the listener accepted before it closed is served.
    await http().get(`${P}/stats`).expect(200);
    await http().get(`${P}/health/live`).expect(200);
  });
});

describe('stats and cache routes (e2e)', () => {
  let t: TestApp;
  let loader: LazyLoaderService;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await createTestApp({ env: { LAZY_DATA_SIZE: 'medium', LAZY_PREFETCH_CHUNKS: '0' } });
    loader = t.app.get(LazyLoaderService);
  });
  afterAll(async () => t.close());

  it('reports every key of the contract, all zero before any load', async () => {
    const res = await http().get(`${P}/stats`).expect(200);
    for (const key of GUIDE_STATS_KEYS) expect(typeof res.body[key], key).toBe('number');
    expect(res.body).toMatchObject({ total_chunks_loaded: 0, cache_hits: 0, disk_cache_hits: 0, cache_hit_rate: 0, active_chunks: 0 });
    expect(res.body.memory_usage_mb).toBeGreaterThan(10);
  });

  it('reports true figures after real loads, with the hit rate at most 1', async () => {
    const src = numbers('ops-stats');
    await loader.getChunk(src, 0);
    await loader.getChunk(src, 1);
    await loader.getChunk(src, 0);
    await loader.getChunk(src, 0);
    await loader.flush();
    const res = await http().get(`${P}/stats`).expect(200);
    expect(src.calls).toBe(2);
    expect(res.body.total_chunks_loaded).toBe(2);
    expect(res.body.cache_hits).toBe(2);
    expect(res.body.cache_hit_rate).toBeCloseTo(2 / 4, 10);
    expect(res.body.cache_hit_rate).toBeLessThanOrEqual(1);
    expect(res.body.active_chunks).toBe(2);
    expect(res.body.avg_chunk_load_time).toBeGreaterThan(0);
    expect(res.body.tiers.memory).toMatchObject({ hits: 2, entries: 2 });
  });

  it('shows both tiers in /cache/status and empties them with /cache/clear', async () => {
    const status = await http().get(`${P}/cache/status`).expect(200);
    expect(status.body).toMatchObject({
      caching_enabled: true,
      memory: { enabled: true, entries: 2, max_bytes: 1024 * 1024 * 1024, max_entries: 20 },
      disk: { enabled: true, healthy: true, entries: 2 },
    });
    expect(status.body.memory.bytes).toBeGreaterThan(0);
    const cleared = await http().post(`${P}/cache/clear`).expect(200);
    expect(cleared.body).toMatchObject({ cleared: true, memory_entries_removed: 2, disk_entries_removed: 2 });
    const after = await http().get(`${P}/cache/status`).expect(200);
    expect(after.body.memory.entries).toBe(0);
    expect(after.body.disk.entries).toBe(0);
    const src = numbers('ops-stats');
    await loader.getChunk(src, 0);
    expect(src.calls).toBe(1);
  });
});
