import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryRepository } from '../src/history/history.repository.js';
import { HistoryService } from '../src/history/history.service.js';
import type { HistoryRow } from '../src/history/history.types.js';
import { historyRow } from './support/history-databases.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const URL_ = '/api/v14/lazy/caption-history';
const N = 230;

interface PageBody {
  success: boolean;
  data: HistoryRow[];
  pagination: {
    page: number | null; page_size: number; total_items: number | null; total_pages: number | null;
    has_next: boolean; has_previous: boolean; next_cursor: string | null; prev_cursor: string | null;
  };
  metadata: { loaded_at: number; cache_hit: boolean; processing_time: number };
}

function rels(link: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (link ?? '').split(', ')) {
    const m = /^<([^>]+)>; rel="(\w+)"$/.exec(part);
    if (m) out[m[2]!] = m[1]!;
  }
  return out;
}

describe(`${HistoryService.name} over HTTP`, () => {
  let t: TestApp;
  let sut: HistoryService;
  let newestFirst: string[];
  const get = (query: string) => request(t.app.getHttpServer()).get(`${URL_}${query}`);

  beforeAll(async () => {
    // Small chunks, so pages straddle chunk boundaries and deep pages must learn them.
    t = await createTestApp({ env: { LAZY_CHUNK_SIZE: '40' } });
    sut = t.app.get(HistoryService);
    await sut.record(Array.from({ length: N }, (_, n) => historyRow(n)));
    newestFirst = Array.from({ length: N }, (_, n) => `req-${N - 1 - n}`);
  });
  afterAll(async () => t.close());

  it('gives true totals, flags and links on the first, a middle and the last page', async () => {
    const cases = [
      { page: 1, len: 50, has_next: true, has_previous: false },
      { page: 3, len: 50, has_next: true, has_previous: true },
      { page: 5, len: 30, has_next: false, has_previous: true },
    ];
    for (const c of cases) {
      const res = await get(`?page=${c.page}&page_size=50`).expect(200);
      const body = res.body as PageBody;
      expect(body.success).toBe(true);
      expect(body.pagination).toMatchObject({ page: c.page, page_size: 50, total_items: N, total_pages: 5, has_next: c.has_next, has_previous: c.has_previous });
      expect(body.data.map((r) => r.request_id)).toEqual(newestFirst.slice((c.page - 1) * 50, (c.page - 1) * 50 + c.len));
      expect(typeof body.metadata.cache_hit).toBe('boolean');
      expect(body.metadata.processing_time).toBeGreaterThan(0);
      const links = rels(res.headers.link);
      expect(links.first).toBe(`${URL_}?page_size=50&page=1`);
      expect(links.last).toBe(`${URL_}?page_size=50&page=5`);
      expect(links.next).toBe(c.has_next ? `${URL_}?page_size=50&page=${c.page + 1}` : undefined);
      expect(links.prev).toBe(c.has_previous ? `${URL_}?page_size=50&page=${c.page - 1}` : undefined);
    }
  });

  it('serves any page directly, whatever the page size, and an empty page past the end', async () => {
    for (const [page, size] of [[7, 33], [23, 10], [1, 230], [2, 229], [58, 4]] as const) {
      const body = (await get(`?page=${page}&page_size=${size}`).expect(200)).body as PageBody;
      expect(body.data.map((r) => r.request_id)).toEqual(newestFirst.slice((page - 1) * size, page * size));
    }
    const past = (await get('?page=99&page_size=50').expect(200)).body as PageBody;
    expect(past.data).toEqual([]);
    expect(past.pagination).toMatchObject({ has_next: false, has_previous: true, next_cursor: null });
  });

  it('skips the count with include_total=false and still knows has_next', async () => {
    const last = (await get('?page=5&page_size=50&include_total=false').expect(200)).body as PageBody;
    expect(last.pagination).toMatchObject({ total_items: null, total_pages: null, has_next: false, has_previous: true });
    const fourth = await get('?page=4&page_size=50&include_total=false').expect(200);
    expect((fourth.body as PageBody).pagination.has_next).toBe(true);
    expect(rels(fourth.headers.link).last).toBeUndefined();
  });

  it('takes empty parameters as not given, as clients that send every parameter do', async () => {
    const body = (await get('?page=&page_size=&user_id=&style=&date_from=&date_to=&cursor=&include_total=').expect(200)).body as PageBody;
    expect(body.pagination).toMatchObject({ page: 1, page_size: 50, total_items: N });
    expect(body.data.map((r) => r.request_id)).toEqual(newestFirst.slice(0, 50));
  });

  it('combines filters', async () => {
    const body = (await get('?user_id=user_1&style=professional&date_from=2026-01-01T01:00:00Z&date_to=2026-01-01T03:00:00.000Z&page_size=1000').expect(200))
      .body as PageBody;
    const expected = newestFirst.filter((id) => {
      const n = Number(id.slice(4));
      return n % 3 === 1 && n % 2 === 1 && n >= 60 && n <= 180;
    });
    expect(body.data.map((r) => r.request_id)).toEqual(expected);
    expect(body.pagination.total_items).toBe(expected.length);
    const day = (await get('?date_from=2026-01-01&date_to=2026-01-01&page_size=1').expect(200)).body as PageBody;
    expect(day.pagination.total_items).toBe(N);
  });

  it('walks by cursor without skipping or repeating while rows are inserted meanwhile', async () => {
    const seen: string[] = [];
    let res = await get('?page_size=25');
    let extra = 1000;
    for (;;) {
      const body = res.body as PageBody;
      seen.push(...body.data.map((r) => r.request_id));
      // New captions arrive while the client walks.
      await sut.record([historyRow(extra++, { created_at: new Date() })]);
      if (!body.pagination.has_next) break;
      if (body.pagination.page === null) expect(rels(res.headers.link).next).toContain('cursor=');
      res = await get(`?page_size=25&cursor=${body.pagination.next_cursor}`).expect(200);
      expect((res.body as PageBody).pagination.page).toBeNull();
    }
    expect(seen).toEqual(newestFirst);
    // And back: prev_cursor pages towards newer rows.
    const lastPage = res.body as PageBody;
    const back = (await get(`?page_size=25&cursor=${lastPage.pagination.prev_cursor}`).expect(200)).body as PageBody;
    expect(back.data.map((r) => r.request_id)).toEqual(newestFirst.slice(N - 5 - 25, N - 5));
    expect(back.pagination).toMatchObject({ has_next: true, has_previous: true });
  });

  it('counts again after a write (cached counts are invalidated)', async () => {
    const before = ((await get('?page_size=1&style=minimalist').expect(200)).body as PageBody).pagination.total_items;
    await sut.record([historyRow(5000, { style: 'minimalist' })]);
    const after = ((await get('?page_size=1&style=minimalist').expect(200)).body as PageBody).pagination.total_items;
    expect(after).toBe(before! + 1);
  });

  it('serves a page read before from the lazy loader cache, and after a write at the head still reads the chunks behind it from there', async () => {
    const first = (await get('?page=2&page_size=20&style=casual').expect(200)).body as PageBody;
    const again = (await get('?page=2&page_size=20&style=casual').expect(200)).body as PageBody;
    expect(again.data).toEqual(first.data);
    expect(again.metadata.cache_hit).toBe(true);
    await sut.record([historyRow(7000, { style: 'casual', created_at: new Date() })]);
    const fresh = (await get('?page=2&page_size=20&style=casual').expect(200)).body as PageBody;
    // The new row is the newest: everything moved down by one, and those rows sit in chunks the
    // new row did not change (they are counted from the oldest end).
    expect(fresh.metadata.cache_hit).toBe(true);
    expect(fresh.data.slice(1).map((r) => r.id)).toEqual(first.data.slice(0, 19).map((r) => r.id));
  });

  it.each([
    ['page=0', 'page'],
    ['page=1e12', 'page'],
    ['page_size=5000', 'page_size'],
    ['page_size=abc', 'page_size'],
    ['date_from=2026-13-45', 'date_from'],
    ['date_to=yesterday', 'date_to'],
    ['date_from=2026-02-01&date_to=2026-01-01', 'date_from'],
    ['style=gothic', 'style'],
    ['user_id=a%20b', 'user_id'],
    ['include_total=maybe', 'include_total'],
    ['cursor=not-a-cursor', 'cursor'],
    ['cursor=eyJjIjoxLCJpIjoxLCJkIjoibyIsImYiOiJ4In0.AAAAAAAAAAAAAAAAAAAAAA', 'cursor'],
    ['unknown=1', 'unknown'],
  ])('answers 422 naming the field for %s', async (query, field) => {
    const res = await get(`?${query}`).expect(422);
    expect(res.body).toMatchObject({ error: 'validation_failed' });
    expect((res.body as { details: Array<{ field: string }> }).details.map((d) => d.field)).toContain(field);
  });

  it('counts every page it serves, by number and by cursor, in /stats', async () => {
    const stats = async () => (await request(t.app.getHttpServer()).get('/api/v14/lazy/stats').expect(200)).body as { total_pages_loaded: number; active_pages: number };
    const before = await stats();
    const first = await get('?page=2&page_size=30').expect(200);
    await get(`?page_size=30&cursor=${encodeURIComponent((first.body as PageBody).pagination.next_cursor!)}`).expect(200);
    const after = await stats();
    expect(after.total_pages_loaded - before.total_pages_loaded).toBe(2);
    expect(after.active_pages).toBe(0);
  });

  it('answers 422 naming page, and pointing to cursor pagination, for a page deeper than 100,000 rows', async () => {
    for (const query of ['page=1000000000', 'page=2001&page_size=50', 'page=101&page_size=1000']) {
      const res = await get(`?${query}`).expect(422);
      expect(res.body).toMatchObject({ error: 'validation_failed', message: expect.stringMatching(/^page .*100000 rows.*cursor/) });
      expect(res.body.details).toEqual([{ field: 'page', message: expect.stringContaining('next_cursor') }]);
    }
    // The deepest pages by number are still served (past the end of these rows: empty).
    for (const query of ['page=2000&page_size=50', 'page=100&page_size=1000']) expect((await get(`?${query}`).expect(200)).body.data).toEqual([]);
    // With a cursor, page is not used.
    const cursor = ((await get('?page_size=5').expect(200)).body as PageBody).pagination.next_cursor;
    const byCursor = (await get(`?page_size=5&page=1000000000&cursor=${cursor}`).expect(200)).body as PageBody;
    const second = (await get('?page_size=5&page=2').expect(200)).body as PageBody;
    expect(byCursor.data.map((r) => r.id)).toEqual(second.data.map((r) => r.id));
  });

  it('answers 422 on a cursor from other filters', async () => {
    const body = (await get('?page_size=5&style=casual').expect(200)).body as PageBody;
    const res = await get(`?page_size=5&style=professional&cursor=${body.pagination.next_cursor}`).expect(422);
    expect(res.body.details).toEqual([{ field: 'cursor', message: expect.stringContaining('other filters') }]);
  });

  it('answers 422 on an unknown export format', async () => {
    const res = await request(t.app.getHttpServer()).get(`${URL_}/export?format=xml`).expect(422);
    expect(res.body.details[0].field).toBe('format');
  });
});

describe(`${HistoryService.name} pages by number up to HISTORY_MAX_OFFSET`, () => {
  let t: TestApp;
  const get = (query: string) => request(t.app.getHttpServer()).get(`${URL_}${query}`);

  beforeAll(async () => {
    t = await createTestApp({ env: { HISTORY_MAX_OFFSET: '1000' } });
    await t.app.get(HistoryService).record(Array.from({ length: 1010 }, (_, n) => historyRow(n)));
  });
  afterAll(async () => t.close());

  it('links the page after the deepest one by cursor, which reads on from there', async () => {
    const deepest = await get('?page=100&page_size=10').expect(200);
    expect((deepest.body as PageBody).data.map((r) => r.request_id)).toEqual(['req-19', 'req-18', 'req-17', 'req-16', 'req-15', 'req-14', 'req-13', 'req-12', 'req-11', 'req-10']);
    const links = rels(deepest.headers.link);
    expect(links.prev).toBe(`${URL_}?page_size=10&page=99`);
    expect(links.next).toBe(`${URL_}?page_size=10&cursor=${(deepest.body as PageBody).pagination.next_cursor}`);
    const next = (await request(t.app.getHttpServer()).get(links.next!).expect(200)).body as PageBody;
    expect(next.data.map((r) => r.request_id)).toEqual(['req-9', 'req-8', 'req-7', 'req-6', 'req-5', 'req-4', 'req-3', 'req-2', 'req-1', 'req-0']);
    const refused = await get('?page=101&page_size=10').expect(422);
    expect(refused.body.message).toContain('at most page 100');
  });
});

describe(`${HistoryRepository.name} in the app`, () => {
  it('is migrated before first use, answers ping, and closes the database when the app shuts down', async () => {
    const t = await createTestApp();
    const sut = t.app.get(HistoryRepository);
    await expect(sut.ping()).resolves.toBeUndefined();
    await t.app.get(HistoryService).record([historyRow(1)]);
    expect(await sut.count({})).toBe(1);
    await t.close();
    await expect(sut.ping()).rejects.toThrow();
  });
});
