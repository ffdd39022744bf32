import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../src/history/seed-rows.js';
import { HistoryRepository } from '../src/history/history.repository.js';
import { HistoryService } from '../src/history/history.service.js';
import type { HistoryFilter } from '../src/history/history.types.js';
import { appEnginesUnderTest, historyRow, openAppDatabase, type AppDatabase } from './support/history-databases.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const DAY = 86_400_000;
const today = Math.floor(Date.now() / DAY) * DAY;

describe.each(appEnginesUnderTest('history layout specs'))(`${HistoryService.name}: pages equal a database read on %s (e2e)`, (engine) => {
  let db: AppDatabase;
  let t: TestApp;
  let sut: HistoryService;
  let repo: HistoryRepository;
  const rnd = prng(7);
  let n = 0;
  /** A row on one of the last six days (or now), of one of three users and two styles. */
  const row = (at?: number) =>
    historyRow(n++, { user_id: `lay-${Math.floor(rnd() * 3)}`, style: rnd() < 0.5 ? 'casual' : 'playful', created_at: at === undefined ? undefined : new Date(at) });
  const views: HistoryFilter[] = [
    {},
    { userId: 'lay-1' },
    { style: 'casual' },
    { userId: 'lay-2', style: 'playful' },
    { from: today - 4 * DAY + 3_600_000, to: today - 2 * DAY + 7_200_000 },
    { userId: 'lay-0', from: today - 3 * DAY },
  ];

  /** Every page by number, and a cursor walk, of every view, against one keyset read of all its rows. */
  async function expectExact(pageSize: number): Promise<void> {
    for (const filter of views) {
      const all = (await repo.findRows(filter, { direction: 'older', limit: 100_000 })).map((r) => r.id);
      const pages = Math.ceil(all.length / pageSize) + 1;
      for (let page = 1; page <= pages; page++) {
        const got = await sut.readPage({ filter, page, pageSize, includeTotal: true });
        expect({ filter, page, ids: got.items.map((r) => r.id) }).toEqual({ filter, page, ids: all.slice((page - 1) * pageSize, page * pageSize) });
        expect(got.pagination).toMatchObject({ total_items: all.length, has_next: page * pageSize < all.length, has_previous: page > 1 });
      }
      const walked: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const got = await sut.readPage({ filter, page: 1, pageSize, cursor, includeTotal: false });
        walked.push(...got.items.map((r) => r.id));
        if (!got.pagination.next_cursor) break;
        cursor = got.pagination.next_cursor;
      }
      expect({ filter, walked }).toEqual({ filter, walked: all });
    }
  }

  beforeAll(async () => {
    db = await openAppDatabase(engine);
    t = await createTestApp({ env: { ...db.env, LAZY_CHUNK_SIZE: '7' } });
    sut = t.app.get(HistoryService);
    repo = t.app.get(HistoryRepository);
    // Dense and sparse days: 60 rows on day -5, 3 on day -4, 1 on day -3, 25 on day -2.
    const rows = [];
    for (const [day, count] of [[5, 60], [4, 3], [3, 1], [2, 25]] as const) {
      for (let i = 0; i < count; i++) rows.push(row(today - day * DAY + Math.floor(rnd() * DAY)));
    }
    await sut.record(rows);
  });
  afterAll(async () => {
    await t?.close();
    await db?.dispose();
  });

  it('serves every page and cursor walk exactly, then again after live writes', async () => {
    await expectExact(5);
    await sut.record(Array.from({ length: 9 }, () => row()));
    await expectExact(6);
  });

  it('stays exact after backdated rows into dense, sparse and empty days, and ties', async () => {
    await expectExact(4);
    const tie = today - 2 * DAY + 1000;
    await sut.record([row(today - 5 * DAY + 5), row(today - 4 * DAY + Math.floor(rnd() * DAY)), row(today - 1 * DAY + 10), row(tie), row(tie)]);
    await sut.record([row(tie), row()]);
    await expectExact(13);
    await expectExact(1);
  });
});
