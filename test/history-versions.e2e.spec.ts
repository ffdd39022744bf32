import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryService } from '../src/history/history.service.js';
import type { HistoryRow } from '../src/history/history.types.js';
import { historyRow } from './support/history-databases.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const HISTORY = '/api/v14/lazy/caption-history';
const CAPTIONS = '/api/v14/lazy/captions';
/** Replica freshness: a write acknowledged by one replica is visible on the others within this. */
const FRESH_WITHIN_MS = 1000;
const caption = { content_description: 'Fresh strawberry pancakes for a lazy Sunday brunch' };

interface PageBody {
  data: HistoryRow[];
  pagination: { total_items: number | null; has_next: boolean; next_cursor: string | null };
  metadata: { cache_hit: boolean };
}

const page = async (t: TestApp, query: string): Promise<PageBody> =>
  (await request(t.app.getHttpServer()).get(`${HISTORY}${query}`).expect(200)).body as PageBody;

/** Every request id of the unfiltered listing, walked by cursor `pageSize` rows at a time. */
async function walk(t: TestApp, pageSize: number): Promise<string[]> {
  const seen: string[] = [];
  let body = await page(t, `?page_size=${pageSize}`);
  for (;;) {
    seen.push(...body.data.map((r) => r.request_id));
    if (!body.pagination.has_next) return seen;
    body = await page(t, `?page_size=${pageSize}&cursor=${body.pagination.next_cursor}`);
  }
}

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

  it('shows a write through A in B\'s first page, total, cursor walk and user filter within one second, and in A\'s at once; B\'s other views stay cached', async () => {
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 5 * 86_400_000;
    const past = `date_from=${new Date(day).toISOString()}&date_to=${new Date(day + 86_400_000 - 1).toISOString()}`;
    await a.app.get(HistoryService).record(
      Array.from({ length: 30 }, (_, n) => historyRow(n, { user_id: n % 2 ? 'replica-user' : 'other-user', created_at: new Date(day + n * 60_000) })),
    );
    const views = {
      first: '?page=1&page_size=10',
      user: '?page=1&page_size=10&user_id=replica-user',
      otherUser: '?page=1&page_size=10&user_id=other-user',
      otherUserDeep: '?page=2&page_size=10&user_id=other-user',
      closedRange: `?page=2&page_size=10&${past}`,
    };
    // B caches every view as it is now (twice, so the second is a hit).
    const before: Record<string, PageBody> = {};
    for (const [name, query] of Object.entries(views)) {
      before[name] = await page(b, query);
      expect({ name, hit: (await page(b, query)).metadata.cache_hit }).toEqual({ name, hit: true });
    }
    expect(await walk(b, 7)).toHaveLength(30);

    const res = await request(a.app.getHttpServer())
      .post(CAPTIONS)
      .send({ ...caption, user_id: 'replica-user', style: 'educational', variation_count: 3 })
      .expect(200);
    const written = res.body.request_id as string;
    const acknowledged = Date.now();

    const onA = await page(a, views.user);
    expect(onA.pagination.total_items).toBe(18);
    expect(onA.data.filter((r) => r.request_id === written)).toHaveLength(3);
    const seenOnB = async () => {
      for (const query of [views.first, views.user]) {
        const onB = await page(b, query);
        expect(onB.pagination.total_items).toBe(query === views.user ? 18 : 33);
        expect(onB.data.slice(0, 3).map((r) => r.request_id)).toEqual([written, written, written]);
      }
      const walked = await walk(b, 7);
      expect(walked).toHaveLength(33);
      expect(walked.slice(0, 3)).toEqual([written, written, written]);
    };
    // The promise: every read that starts a second or more after the acknowledgement sees the write.
    // Reads that start earlier may still miss it; the time a read takes is not part of the bound.
    for (;;) {
      const late = Date.now() - acknowledged >= FRESH_WITHIN_MS;
      try {
        await seenOnB();
        break;
      } catch (err) {
        if (late) throw err;
      }
      await new Promise((done) => setTimeout(done, 50));
    }
    for (const name of ['otherUser', 'otherUserDeep', 'closedRange'] as const) {
      const now = await page(b, views[name]);
      expect({ name, hit: now.metadata.cache_hit }).toEqual({ name, hit: true });
      expect(now).toMatchObject({ data: before[name]!.data, pagination: before[name]!.pagination });
    }
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
        // A cursor page reads the same chunks.
        const byCursor = await page(second, `?page_size=10&cursor=${after.pagination.next_cursor}`);
        expect(byCursor.metadata.cache_hit).toBe(true);
        expect(byCursor.data.map((r) => r.request_id)).toEqual(Array.from({ length: 10 }, (_, i) => `req-${19 - i}`));
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
