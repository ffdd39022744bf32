import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HistoryService } from '../src/history/history.service.js';
import type { HistoryRow } from '../src/history/history.types.js';
import { appEnginesUnderTest, historyRow, openAppDatabase, type AppDatabase } from './support/history-databases.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const HISTORY = '/api/v14/lazy/caption-history';
const DAY = 86_400_000;

interface PageBody {
  data: HistoryRow[];
  pagination: { total_items: number | null; next_cursor: string | null };
  metadata: { cache_hit: boolean };
}

/** Two past days, ten days ago and nine days ago (UTC midnights), each with 20 rows of users user_0..user_2. */
const today = Math.floor(Date.now() / DAY) * DAY;
const dayA = today - 10 * DAY;
const dayB = today - 9 * DAY;
const iso = (ms: number) => new Date(ms).toISOString();
const rangeOf = (day: number) => `date_from=${iso(day)}&date_to=${iso(day + DAY - 1)}`;

describe.each(appEnginesUnderTest('history invalidation specs'))(`${HistoryService.name}: what a write invalidates, on %s (e2e)`, (engine) => {
  let db: AppDatabase;
  let t: TestApp;
  let sut: HistoryService;
  let n = 0;
  let spec = 0;
  /** This spec's three users. */
  let users: string[] = [];
  const page = async (query: string): Promise<PageBody> => (await request(t.app.getHttpServer()).get(`${HISTORY}?${query}`).expect(200)).body as PageBody;
  /** Reads a view twice (the second from the cache) and returns it. */
  const cached = async (query: string): Promise<PageBody> => {
    await page(query);
    const again = await page(query);
    expect({ query, hit: again.metadata.cache_hit }).toEqual({ query, hit: true });
    return again;
  };
  const row = (overrides: Parameters<typeof historyRow>[1] = {}) => historyRow(n++, overrides);

  beforeAll(async () => {
    db = await openAppDatabase(engine);
    // Chunks of 5 rows, so every view has several.
    t = await createTestApp({ env: { ...db.env, LAZY_CHUNK_SIZE: '5', HISTORY_FRESHNESS_MS: '250' } });
    sut = t.app.get(HistoryService);
  });
  afterAll(async () => {
    await t?.close();
    await db?.dispose();
  });
  beforeEach(async () => {
    // Fresh users per spec; rows spread over the two past days, one minute apart.
    spec += 1;
    users = [0, 1, 2].map((i) => `s${spec}-u${i}`);
    const rows = [];
    for (const day of [dayA, dayB]) for (let i = 0; i < 20; i++) rows.push(row({ user_id: users[i % 3]!, created_at: new Date(day + i * 60_000 + n) }));
    await sut.record(rows);
  });

  it('own user: a live write shows at once on the writer\'s first page and total; their older pages stay cached', async () => {
    const user = users[0]!;
    const first = await cached(`user_id=${user}&page_size=5`);
    const second = await cached(`user_id=${user}&page=2&page_size=5`);

    await sut.record([row({ user_id: user, request_id: 'own-live', created_at: undefined })]);

    const firstAfter = await page(`user_id=${user}&page_size=5`);
    expect(firstAfter.metadata.cache_hit).toBe(false);
    expect(firstAfter.data[0]!.request_id).toBe('own-live');
    expect(firstAfter.pagination.total_items).toBe(first.pagination.total_items! + 1);
    // Page 2 moved down by one row; those rows sit in chunks the new row did not touch.
    const secondAfter = await page(`user_id=${user}&page=2&page_size=5`);
    expect(secondAfter.metadata.cache_hit).toBe(true);
    expect(secondAfter.data.map((r) => r.id)).toEqual([first.data.at(-1)!.id, ...second.data.slice(0, 4).map((r) => r.id)]);
  });

  it('other user: a write by one user leaves another user\'s pages and totals cached and unchanged', async () => {
    const [mine, theirs] = users as [string, string];
    const before = await cached(`user_id=${mine}&page_size=5`);
    const styled = await cached(`user_id=${mine}&style=casual&page_size=5`);

    await sut.record([row({ user_id: theirs, style: 'casual', request_id: 'theirs', created_at: undefined })]);

    for (const [query, was] of [[`user_id=${mine}&page_size=5`, before], [`user_id=${mine}&style=casual&page_size=5`, styled]] as const) {
      const now = await page(query);
      expect({ query, hit: now.metadata.cache_hit }).toEqual({ query, hit: true });
      expect(now).toMatchObject({ data: was.data, pagination: was.pagination });
    }
    expect((await page(`user_id=${theirs}&page_size=1`)).data[0]!.request_id).toBe('theirs');
  });

  it('closed range: a past date range stays cached through live writes, while the unfiltered listing shows them', async () => {
    const closed = await cached(`${rangeOf(dayA)}&page_size=5`);
    const deeper = await cached(`${rangeOf(dayA)}&page=3&page_size=5`);
    const listing = await cached('page_size=5');

    await sut.record([row({ request_id: 'live-1', created_at: undefined }), row({ user_id: null, request_id: 'live-2', created_at: undefined })]);

    for (const [query, was] of [[`${rangeOf(dayA)}&page_size=5`, closed], [`${rangeOf(dayA)}&page=3&page_size=5`, deeper]] as const) {
      const now = await page(query);
      expect({ query, hit: now.metadata.cache_hit }).toEqual({ query, hit: true });
      expect(now).toMatchObject({ data: was.data, pagination: was.pagination });
    }
    const now = await page('page_size=5');
    expect(now.data.slice(0, 2).map((r) => r.request_id)).toEqual(['live-2', 'live-1']);
    expect(now.pagination.total_items).toBe(listing.pagination.total_items! + 2);
  });

  it('backdated insert: a row written into a past day changes the ranges it falls into, and no other', async () => {
    const rangeA = await cached(`${rangeOf(dayA)}&page_size=100`);
    const rangeB = await cached(`${rangeOf(dayB)}&page_size=5`);
    // The listing's first page holds newer rows than day A's (day B's, or live rows).
    const listing = await cached('page_size=5');
    const oldest = rangeA.data.at(-1)!;
    const at = Date.parse(oldest.created_at) + 30_000;

    await sut.record([row({ request_id: 'backdated', created_at: new Date(at) })]);

    const afterA = await page(`${rangeOf(dayA)}&page_size=100`);
    expect(afterA.metadata.cache_hit).toBe(false);
    expect(afterA.pagination.total_items).toBe(rangeA.pagination.total_items! + 1);
    const expected = [...rangeA.data.filter((r) => Date.parse(r.created_at) > at).map((r) => r.request_id), 'backdated'];
    expect(afterA.data.slice(0, expected.length).map((r) => r.request_id)).toEqual(expected);
    const afterB = await page(`${rangeOf(dayB)}&page_size=5`);
    expect(afterB.metadata.cache_hit).toBe(true);
    expect(afterB).toMatchObject({ data: rangeB.data, pagination: rangeB.pagination });
    const listingAfter = await page('page_size=5');
    expect(listingAfter.metadata.cache_hit).toBe(true);
    expect(listingAfter.data).toEqual(listing.data);
    expect(listingAfter.pagination.total_items).toBe(listing.pagination.total_items! + 1);
  });
});
