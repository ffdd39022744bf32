import { CompiledQuery } from 'kysely';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { streamEndings } from '../src/common/metrics/metrics.js';
import { openHistoryDatabase } from '../src/history/history-database.js';
import { HistoryService } from '../src/history/history.service.js';
import { openExport, orFailAfter, type OpenedExport } from './support/export-clients.js';
import { historyRow } from './support/history-databases.js';
import { listening } from './support/raw-request.js';
import { createTestApp, type TestApp } from './support/test-app.js';

// Enough rows (about 14 MB of NDJSON) that socket buffers cannot hold a whole export.
const ROWS = 40_000;
const ROUTE = 'GET /caption-history/export';

async function seeded(env: Record<string, string>): Promise<{ t: TestApp; port: number; history: HistoryService }> {
  const t = await createTestApp({ env });
  const history = t.app.get(HistoryService);
  await history.record(Array.from({ length: ROWS }, (_, n) => historyRow(n)));
  return { t, port: await listening(t.app), history };
}

async function endings(outcome: string): Promise<number> {
  const { values } = await streamEndings.get();
  return values.find((v) => v.labels.route === ROUTE && v.labels.outcome === outcome)?.value ?? 0;
}

describe('history export caps (e2e)', () => {
  let t: TestApp;
  let port: number;
  let history: HistoryService;
  const clients: OpenedExport[] = [];
  const open = async (localAddress: string) => {
    const opened = await openExport(port, { localAddress });
    clients.push(opened);
    return opened;
  };

  beforeAll(async () => {
    ({ t, port, history } = await seeded({ EXPORT_MAX_CONCURRENT: '2', EXPORT_MAX_PER_CLIENT: '1' }));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.req.destroy();
    await vi.waitFor(() => expect(history.exportSlots.active).toBe(0));
  });
  afterAll(async () => t.close());

  it('answers 429 rate_limited with Retry-After past the per-client cap and past the service cap', async () => {
    expect((await open('127.0.0.1')).status).toBe(200);
    const same = await open('127.0.0.1');
    expect(same.status).toBe(429);
    expect(same.res.headers['retry-after']).toBe('5');
    expect(same.body).toEqual({
      error: 'rate_limited',
      message: expect.stringMatching(/^You already run 1 exports at once.*Retry-After$/),
      request_id: same.res.headers['x-request-id'],
      timestamp: expect.any(Number),
    });
    // Another client (address) still gets one, up to the service's cap.
    expect((await open('127.0.0.2')).status).toBe(200);
    const third = await open('127.0.0.3');
    expect(third.status).toBe(429);
    expect(third.res.headers['retry-after']).toBe('5');
    expect(third.body).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/^The service already runs 2 exports/) });
    expect(history.exportSlots.active).toBe(2);
  });

  it('frees a slot when a client leaves and when an export is read to its end', async () => {
    const leaving = await open('127.0.0.1');
    const reader = await open('127.0.0.2');
    expect([leaving.status, reader.status]).toEqual([200, 200]);
    expect((await open('127.0.0.3')).status).toBe(429);

    leaving.req.destroy();
    await vi.waitFor(() => expect(history.exportSlots.active).toBe(1));
    expect((await open('127.0.0.3')).status).toBe(200);

    reader.res.resume();
    await once(reader.res, 'end');
    await vi.waitFor(() => expect(history.exportSlots.active).toBe(1));
    expect((await open('127.0.0.4')).status).toBe(200);
  });
});

describe('history export idle timeout (e2e)', () => {
  let t: TestApp;
  let port: number;
  let history: HistoryService;

  beforeAll(async () => {
    ({ t, port, history } = await seeded({ EXPORT_IDLE_TIMEOUT_MS: '300' }));
  });
  afterAll(async () => t.close());

  it('ends an export whose client reads nothing, resetting its connection and freeing its slot', async () => {
    const before = await endings('idle_timeout');
    const server = t.app.getHttpServer();
    const accepted = once(server, 'request') as Promise<[IncomingMessage]>;
    const stalled = await openExport(port);
    try {
      expect(stalled.status).toBe(200);
      const [serverReq] = await accepted;
      // The client reads nothing, so only the server's side of the connection can show it closing.
      await orFailAfter(once(serverReq.socket, 'close'), 15_000, 'the server kept the stalled export open');
      await vi.waitFor(() => expect(history.exportSlots.active).toBe(0));
      expect(await endings('idle_timeout')).toBe(before + 1);
      // When the client reads at last, it finds the body cut short, not ended.
      const outcome = once(stalled.res, 'end').then(
        () => 'ended',
        (err: Error) => `cut (${err.message})`,
      );
      stalled.res.resume();
      expect(await outcome).toMatch(/^cut/);
    } finally {
      stalled.req.destroy();
    }
  });
});

describe('history export read too slowly (e2e)', () => {
  let t: TestApp;
  let port: number;
  let history: HistoryService;

  beforeAll(async () => {
    // Windows of 2 s: a client must take 8 MiB in each one in which the export waits for it.
    ({ t, port, history } = await seeded({ EXPORT_IDLE_TIMEOUT_MS: '2000', EXPORT_MIN_BYTES_PER_SECOND: String(4 * 1024 * 1024) }));
  });
  afterAll(async () => t.close());

  it('ends an export whose client reads, but slower than the minimum rate, and frees its slot', async () => {
    const before = await endings('too_slow');
    const idleBefore = await endings('idle_timeout');
    const server = t.app.getHttpServer();
    const accepted = once(server, 'request') as Promise<[IncomingMessage]>;
    const slow = await openExport(port);
    // About 1.3 MB/s, in small bites often: the server's writes drain well within each window, so
    // the client is never idle, and only the rate rule can end it.
    let read = 0;
    const reader = setInterval(() => {
      const chunk = slow.res.read(Math.min(64 * 1024, slow.res.readableLength || 64 * 1024)) as Buffer | null;
      if (chunk) read += chunk.length;
    }, 50);
    try {
      expect(slow.status).toBe(200);
      const [serverReq] = await accepted;
      await orFailAfter(once(serverReq.socket, 'close'), 15_000, 'the server kept the slow export open');
      await vi.waitFor(() => expect(history.exportSlots.active).toBe(0));
      expect(await endings('too_slow')).toBe(before + 1);
      expect(await endings('idle_timeout')).toBe(idleBefore);
      expect(read).toBeGreaterThan(0);
    } finally {
      clearInterval(reader);
      slow.req.destroy();
    }
  });

  it('lets a client that reads at full speed finish the same export', async () => {
    const before = await endings('too_slow');
    const fast = await openExport(port);
    expect(fast.status).toBe(200);
    let lines = 0;
    fast.res.on('data', (c: Buffer) => {
      for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines += 1;
    });
    await orFailAfter(once(fast.res, 'end'), 30_000, 'the fast export did not end');
    expect(lines).toBe(ROWS);
    expect(await endings('too_slow')).toBe(before);
  });
});

describe('SQLite write-ahead log after exports (e2e)', () => {
  let t: TestApp;
  let port: number;
  let history: HistoryService;

  beforeAll(async () => {
    ({ t, port, history } = await seeded({ SQLITE_CHECKPOINT_INTERVAL_MS: '100' }));
  });
  afterAll(async () => t.close());

  it('shrinks once the stalled exports that pinned it end', async () => {
    const wal = join(t.dataDir, 'history.sqlite-wal');
    const stalled: OpenedExport[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const opened = await openExport(port);
        stalled.push(opened);
        expect(opened.status).toBe(200);
        // Rows arrived: the export reads from its snapshot.
        await once(opened.res, 'readable');
      }
      // Writes while the snapshots are held: the log cannot restart, so it grows.
      for (let i = 0; i < 4; i++) {
        await history.record(Array.from({ length: 10_000 }, (_, n) => historyRow(ROWS + i * 10_000 + n)));
      }
      expect(statSync(wal).size).toBeGreaterThan(8 * 1024 * 1024);
    } finally {
      for (const c of stalled) c.req.destroy();
    }
    await vi.waitFor(() => expect(history.exportSlots.active).toBe(0));
    // The next scheduled checkpoint finds no reader and truncates the log.
    await vi.waitFor(() => expect(statSync(wal).size).toBe(0), { timeout: 10_000, interval: 50 });
  });
});

const PG_URL = process.env.TEST_DATABASE_URL;
if (!PG_URL) console.warn('SKIPPED: history exports on PostgreSQL (set TEST_DATABASE_URL to run them)');

describe.skipIf(!PG_URL)('history exports on PostgreSQL (e2e)', () => {
  // As many stalled exports as the pool that serves pages, writes and probes has connections.
  const STALLED = 10;
  const schema = `export_limits_${process.pid}_${Date.now()}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    await admin(`create schema ${schema}`);
    const url = new URL(PG_URL!);
    url.searchParams.set('options', `-c search_path=${schema}`);
    ({ t, port } = await seeded({
      DATABASE_URL: url.toString(),
      EXPORT_MAX_CONCURRENT: String(STALLED),
      EXPORT_MAX_PER_CLIENT: String(STALLED),
    }));
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await admin(`drop schema if exists ${schema} cascade`);
  });

  it('serves pages and readiness while exports at the cap stall', async () => {
    const stalled: OpenedExport[] = [];
    try {
      for (let i = 0; i < STALLED; i++) {
        const opened = await openExport(port);
        stalled.push(opened);
        expect(opened.status).toBe(200);
        // Rows arrived: the export's cursor is open on its connection.
        await once(opened.res, 'readable');
      }
      const http = () => request(t.app.getHttpServer());
      await http().get('/api/v14/lazy/health/ready').timeout(20_000).expect(200);
      // A bound only so that a hang fails here instead of at the suite's timeout.
      const page = await http().get('/api/v14/lazy/caption-history?page_size=5').timeout(20_000).expect(200);
      expect(page.body.data).toHaveLength(5);
      expect((await openExport(port)).status).toBe(429);
    } finally {
      for (const c of stalled) c.req.destroy();
    }
  });

  it('reads exports on connections with the statement timeout', async () => {
    const handle = openHistoryDatabase(PG_URL!, { schema, exports: { connections: 1, statementTimeoutMs: 1234 } });
    try {
      const show = CompiledQuery.raw('show statement_timeout') as CompiledQuery<{ statement_timeout: string }>;
      const rows = [];
      for await (const batch of handle.streamArrays(show, 10)) rows.push(...batch);
      expect(rows).toEqual([['1234ms']]);
      // The other queries keep the server's default.
      const other = await handle.db.executeQuery(show);
      expect(other.rows[0]!.statement_timeout).not.toBe('1234ms');
    } finally {
      await handle.destroy();
    }
  });
});
