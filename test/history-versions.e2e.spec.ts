import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HistoryService } from '../src/history/history.service.js';
import type { HistoryRow } from '../src/history/history.types.js';
import { historyRow } from './support/history-databases.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const HISTORY = '/api/v14/lazy/caption-history';
const CAPTIONS = '/api/v14/lazy/captions';
const caption = { content_description: 'Fresh strawberry pancakes for a lazy Sunday brunch' };

interface PageBody {
  data: HistoryRow[];
  pagination: { total_items: number | null };
  metadata: { cache_hit: boolean };
}

const page = async (t: TestApp, query: string): Promise<PageBody> =>
  (await request(t.app.getHttpServer()).get(`${HISTORY}${query}`).expect(200)).body as PageBody;

const PG_URL = process.env.TEST_DATABASE_URL;
if (!PG_URL) console.warn('\n*** SKIPPED: two replicas on one PostgreSQL (set TEST_DATABASE_URL to run them) ***\n');

describe.skipIf(!PG_URL)(`${HistoryService.name}: two replicas on one PostgreSQL (e2e)`, () => {
  let a: TestApp;
  let b: TestApp;
  const schema = `history_replicas_${process.pid}_${Date.now()}`;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const url = new URL(PG_URL!);
    url.searchParams.set('options', `-c search_path=${schema}`);
    // A long TTL: only the data version can make B see A's write in time.
    const env = { DATABASE_URL: url.toString(), LAZY_CACHE_TTL: '3600', HISTORY_FRESHNESS_MS: '250' };
    a = await createTestApp({ env });
    b = await createTestApp({ env });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  it('shows a write through A in B\'s first page and totals within one second, and in A\'s at once', async () => {
    await request(a.app.getHttpServer()).post(CAPTIONS).send({ ...caption, user_id: 'replica-user', variation_count: 2 }).expect(200);
    // B caches the page and the totals as they are now (twice, so the second is a hit).
    for (const query of ['?page=1&page_size=10', '?page=1&page_size=10&user_id=replica-user']) {
      expect((await page(b, query)).pagination.total_items).toBe(2);
      expect((await page(b, query)).metadata.cache_hit).toBe(true);
    }

    const res = await request(a.app.getHttpServer())
      .post(CAPTIONS)
      .send({ ...caption, user_id: 'replica-user', style: 'educational', variation_count: 3 })
      .expect(200);
    const written = res.body.request_id as string;

    const onA = await page(a, '?page=1&page_size=10&user_id=replica-user');
    expect(onA.pagination.total_items).toBe(5);
    expect(onA.data.filter((r) => r.request_id === written)).toHaveLength(3);
    await vi.waitFor(
      async () => {
        for (const query of ['?page=1&page_size=10', '?page=1&page_size=10&user_id=replica-user']) {
          const onB = await page(b, query);
          expect(onB.pagination.total_items).toBe(5);
          expect(onB.data.filter((r) => r.request_id === written)).toHaveLength(3);
        }
      },
      { timeout: 1000, interval: 50 },
    );
  });
});

describe(`${HistoryService.name}: data versions on SQLite (e2e)`, () => {
  it('serves a page read before a restart from the disk tier after it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'history-restart-'));
    const env = { LAZY_ENABLE_DISK_CACHE: 'true' };
    try {
      const first = await createTestApp({ env, dataDir });
      await first.app.get(HistoryService).record(Array.from({ length: 30 }, (_, n) => historyRow(n)));
      expect((await page(first, '?page=1&page_size=10')).metadata.cache_hit).toBe(false);
      // Closing flushes the disk tier's pending writes (the data directory stays).
      await first.app.close();

      const second = await createTestApp({ env, dataDir });
      try {
        const after = await page(second, '?page=1&page_size=10');
        expect(after.metadata.cache_hit).toBe(true);
        expect(after.data.map((r) => r.request_id)).toEqual(Array.from({ length: 10 }, (_, i) => `req-${29 - i}`));
        const stats = (await request(second.app.getHttpServer()).get('/api/v14/lazy/stats').expect(200)).body as { disk_cache_hits: number };
        expect(stats.disk_cache_hits).toBeGreaterThan(0);
      } finally {
        await second.app.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  describe('a write invalidates only the views it can change', () => {
    let t: TestApp;
    let sut: HistoryService;

    beforeAll(async () => {
      t = await createTestApp();
      sut = t.app.get(HistoryService);
      await sut.record(Array.from({ length: 12 }, (_, n) => historyRow(n)));
    });
    afterAll(async () => t.close());

    it('keeps another user\'s and another style\'s pages cached, and moves the writer\'s own', async () => {
      const views = {
        otherUser: '?page=1&page_size=5&user_id=user_1',
        otherStyle: '?page=1&page_size=5&style=professional',
        otherUserSameStyle: '?page=1&page_size=5&user_id=user_1&style=casual',
        sameUser: '?page=1&page_size=5&user_id=user_0',
        sameStyle: '?page=1&page_size=5&style=casual',
        all: '?page=1&page_size=5',
      };
      const before: Record<string, PageBody> = {};
      for (const [name, query] of Object.entries(views)) {
        before[name] = await page(t, query);
        expect((await page(t, query)).metadata.cache_hit).toBe(true);
      }

      await sut.record([historyRow(100, { user_id: 'user_0', style: 'casual', request_id: 'fresh' })]);
      await sut.settled();

      for (const name of ['otherUser', 'otherStyle', 'otherUserSameStyle'] as const) {
        const now = await page(t, views[name]);
        expect({ name, hit: now.metadata.cache_hit }).toEqual({ name, hit: true });
        expect(now).toMatchObject({ data: before[name]!.data, pagination: before[name]!.pagination });
      }
      for (const name of ['sameUser', 'sameStyle', 'all'] as const) {
        const now = await page(t, views[name]);
        expect({ name, hit: now.metadata.cache_hit }).toEqual({ name, hit: false });
        expect(now.data[0]!.request_id).toBe('fresh');
        expect(now.pagination.total_items).toBe(before[name]!.pagination.total_items! + 1);
      }
    });
  });
});
