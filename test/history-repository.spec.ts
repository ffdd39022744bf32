import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf } from '../src/history/history.repository.js';
import { recordCsv, recordJson, recordRow } from '../src/history/history-records.js';
import { csvField } from '../src/common/streaming/stream-serializers.js';
import type { HistoryFilter, HistoryRow } from '../src/history/history.types.js';
import { KyselyHistoryRepository } from '../src/history/kysely-history.repository.js';
import { enginesUnderTest, historyRow } from './support/history-databases.js';

const T0 = Date.UTC(2026, 0, 1);

describe.each(enginesUnderTest('HistoryRepository specs'))(`${KyselyHistoryRepository.name} on $name`, (engine) => {
  let sut: KyselyHistoryRepository;
  let env: Awaited<ReturnType<typeof engine.open>>;
  // 60 rows a minute apart, plus 3 sharing one timestamp (the id breaks the tie).
  const rows = [...Array.from({ length: 60 }, (_, n) => historyRow(n)), ...[0, 1, 2].map((i) => historyRow(100 + i, { created_at: new Date(T0 + 30 * 60_000) }))];

  beforeAll(async () => {
    env = await engine.open();
    sut = env.repo;
    await sut.insertMany(rows);
  });
  afterAll(async () => {
    await sut.close();
    await env.dispose();
  });

  async function walk(filter: HistoryFilter, limit: number): Promise<HistoryRow[]> {
    const out: HistoryRow[] = [];
    let from;
    for (;;) {
      const page = await sut.findRows(filter, { from, direction: 'older', limit });
      out.push(...page);
      if (page.length < limit) return out;
      from = keyOf(page.at(-1)!);
    }
  }

  it('migrates idempotently and answers ping', async () => {
    await sut.migrate();
    await expect(sut.ping()).resolves.toBeUndefined();
    expect(await sut.count({})).toBe(63);
  });

  it('returns rows newest first, id breaking ties, with the API shape', async () => {
    const all = await walk({}, 1000);
    expect(all).toHaveLength(63);
    const keys = all.map(keyOf);
    for (let i = 1; i < keys.length; i++) {
      const [a, b] = [keys[i - 1]!, keys[i]!];
      expect(a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id)).toBe(true);
    }
    const newest = all[0]!;
    expect(newest).toMatchObject({ user_id: 'user_2', hashtags: ['#tag59', '#daily'], style: 'professional', quality_score: 59, request_id: 'req-59' });
    expect(newest.created_at).toBe(new Date(T0 + 59 * 60_000).toISOString());
    expect(typeof newest.id).toBe('string');
  });

  it('walks by keyset without skipping or repeating, for any page size', async () => {
    const reference = (await walk({}, 1000)).map((r) => r.id);
    for (const size of [1, 7, 63, 64]) expect((await walk({}, size)).map((r) => r.id)).toEqual(reference);
  });

  it('reads towards newer rows, returned newest first', async () => {
    const all = await walk({}, 1000);
    const page = await sut.findRows({}, { from: keyOf(all[10]!), direction: 'newer', limit: 4 });
    expect(page.map((r) => r.id)).toEqual(all.slice(6, 10).map((r) => r.id));
  });

  it('combines filters in counts and reads', async () => {
    const filter: HistoryFilter = { userId: 'user_1', style: 'professional', from: T0 + 10 * 60_000, to: T0 + 40 * 60_000 };
    const expected = rows.filter(
      (r) => r.user_id === 'user_1' && r.style === 'professional' && r.created_at!.getTime() >= filter.from! && r.created_at!.getTime() <= filter.to!,
    );
    expect(expected.length).toBeGreaterThan(2);
    expect(await sut.count(filter)).toBe(expected.length);
    const got = await walk(filter, 2);
    expect(got.map((r) => r.request_id).sort()).toEqual(expected.map((r) => r.request_id).sort());
  });

  it('seeks the key n rows away through the index, from either end', async () => {
    const all = await walk({}, 1000);
    expect(await sut.seekKey({}, { direction: 'older', skip: 0 })).toEqual(keyOf(all[0]!));
    expect(await sut.seekKey({}, { direction: 'older', skip: 20 })).toEqual(keyOf(all[20]!));
    expect(await sut.seekKey({}, { from: keyOf(all[20]!), direction: 'older', skip: 9 })).toEqual(keyOf(all[30]!));
    expect(await sut.seekKey({}, { direction: 'newer', skip: 2 })).toEqual(keyOf(all[60]!));
    expect(await sut.seekKey({}, { direction: 'older', skip: 63 })).toBeUndefined();
  });

  it('inserts a batch all or nothing', async () => {
    const bad = [historyRow(500), { ...historyRow(501), caption: null as unknown as string }];
    await expect(sut.insertMany(bad)).rejects.toThrow();
    expect(await sut.count({})).toBe(63);
  });

  it('streams every row in order and stops when returned early', async () => {
    const rows: HistoryRow[] = [];
    for await (const batch of sut.streamRecords({})) rows.push(...batch.map(recordRow));
    // The same rows, field for field, as the page path reads them, and serialised byte for byte as the objects would be.
    const paged = await walk({}, 1000);
    expect(rows).toEqual(paged);
    const records = [];
    for await (const batch of sut.streamRecords({})) records.push(...batch);
    expect(records.map(recordJson)).toEqual(paged.map((r) => JSON.stringify(r)));
    const columns = Object.keys(paged[0]!) as Array<keyof HistoryRow>;
    expect(records.map(recordCsv)).toEqual(paged.map((r) => columns.map((c) => csvField(r[c])).join(',')));
    const it = sut.streamRecords({ style: 'casual' });
    expect((await it.next()).value!.map(recordRow)[0]).toMatchObject({ style: 'casual' });
    await it.return!(undefined);
    expect((await it.next()).done).toBe(true);
    // The database is still usable for writes afterwards (the reader released everything).
    await sut.insertMany([historyRow(999)]);
    expect(await sut.count({})).toBe(64);
  });

  it('keeps the cursor secret across reopening', async () => {
    const other = await env.reopen();
    expect((await other.cursorSecret()).equals(await sut.cursorSecret())).toBe(true);
    expect((await sut.cursorSecret()).length).toBe(32);
    await other.close();
  });

  it('raises the day buckets of the written rows in the insert\'s own transaction: appends and shifts apart', async () => {
    const day = Date.UTC(2026, 5, 1);
    const at = (minutes: number) => new Date(day + minutes * 60_000);
    const d = day / 86_400_000;
    const bucket = async (scope: string) => (await sut.readBuckets(scope)).find((b) => b.day === d);
    expect(await bucket('user:bucketed')).toBeUndefined();

    const first = await sut.insertMany([
      historyRow(700, { user_id: 'bucketed', style: 'casual', created_at: at(10) }),
      historyRow(701, { user_id: 'bucketed', style: 'casual', created_at: at(20) }),
    ]);
    expect(first.map((b) => b.scope)).toEqual(['all', 'style:casual', 'user:bucketed']);
    expect(await bucket('user:bucketed')).toEqual({ scope: 'user:bucketed', day: d, rows: 2, oldest: at(10).getTime(), newest: at(20).getTime(), shifts: 0 });

    // Newer than every row of the day: an append, no shift.
    await sut.insertMany([historyRow(702, { user_id: 'bucketed', style: 'casual', created_at: at(30) })]);
    expect(await bucket('user:bucketed')).toMatchObject({ rows: 3, newest: at(30).getTime(), shifts: 0 });
    // Among the rows already there (a backdated row): a shift.
    await sut.insertMany([historyRow(703, { user_id: 'bucketed', style: 'casual', created_at: at(15) })]);
    const after = await bucket('user:bucketed');
    expect(after).toMatchObject({ rows: 4, newest: at(30).getTime(), shifts: 1 });
    expect(await sut.countByDay({ userId: 'bucketed', style: 'casual' }, [d], Number.MAX_SAFE_INTEGER)).toEqual(new Map([[d, 4]]));

    // A failing insert rolls the buckets back with the rows.
    const bad = [historyRow(704, { user_id: 'bucketed', created_at: at(40) }), { ...historyRow(705), caption: null as unknown as string }];
    await expect(sut.insertMany(bad)).rejects.toThrow();
    expect(await bucket('user:bucketed')).toEqual(after);
    // And a reopened repository (a restart) reads the same buckets.
    const other = await env.reopen();
    expect((await other.readBuckets('user:bucketed')).find((b) => b.day === d)).toEqual(after);
    await other.close();
  });
});
