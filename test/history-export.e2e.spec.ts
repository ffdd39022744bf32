import { once } from 'node:events';
import { get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HistoryRepository } from '../src/history/history.repository.js';
import { HistoryService } from '../src/history/history.service.js';
import type { HistoryRow } from '../src/history/history.types.js';
import { historyRow } from './support/history-databases.js';
import { createTestApp, type TestApp } from './support/test-app.js';

// Enough rows (about 14 MB of NDJSON) that socket buffers cannot hold the whole export.
const N = 40_000;

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += ch;
  }
  return records;
}

describe(`${HistoryService.name} export`, () => {
  let t: TestApp;
  let base: string;
  const pulled = { count: 0, returned: false };

  beforeAll(async () => {
    t = await createTestApp();
    const rows = Array.from({ length: N }, (_, n) => historyRow(n));
    await t.app.get(HistoryService).record(rows);
    // Count what the export pulls from the database cursor, and whether the cursor was closed.
    const repo = t.app.get(HistoryRepository);
    const original = repo.streamRecords.bind(repo);
    vi.spyOn(repo, 'streamRecords').mockImplementation(async function* (filter) {
      try {
        for await (const batch of original(filter)) {
          pulled.count += batch.length;
          yield batch;
        }
      } finally {
        pulled.returned = true;
      }
    });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/api/v14/lazy/caption-history/export`;
  });
  afterAll(async () => t.close());

  const exportText = async (query: string) => {
    const res = await fetch(`${base}?${query}`, { headers: { 'accept-encoding': 'identity' } });
    expect(res.status).toBe(200);
    return { res, text: await res.text() };
  };

  it('exports every row as NDJSON, newest first', async () => {
    const { res, text } = await exportText('format=ndjson');
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const rows = text.trimEnd().split('\n').map((l) => JSON.parse(l) as HistoryRow);
    expect(rows).toHaveLength(N);
    expect(rows[0]).toMatchObject({ request_id: `req-${N - 1}`, hashtags: [`#tag${N - 1}`, '#daily'] });
    expect(rows.at(-1)!.request_id).toBe('req-0');
  });

  it('exports every row as RFC 4180 CSV with a header row', async () => {
    const { res, text } = await exportText('format=csv');
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const records = parseCsv(text);
    expect(records).toHaveLength(N + 1);
    expect(records[0]).toEqual(['id', 'user_id', 'caption', 'hashtags', 'style', 'audience', 'content_type', 'language',
      'quality_score', 'engagement_score', 'request_id', 'created_at']);
    expect(records[1]![2]).toBe(`Caption number ${N - 1}, with "quotes", commas\nand a newline`);
    expect(records[1]![3]).toBe(`#tag${N - 1} #daily`);
  });

  it('exports every row as one JSON array, honouring the filters', async () => {
    const all = JSON.parse((await exportText('format=json')).text) as HistoryRow[];
    expect(all).toHaveLength(N);
    const casual = JSON.parse((await exportText('format=json&style=casual&user_id=user_1')).text) as HistoryRow[];
    expect(casual).toHaveLength(Array.from({ length: N }, (_, n) => n).filter((n) => n % 2 === 0 && n % 3 === 1).length);
    expect(casual.every((r) => r.style === 'casual' && r.user_id === 'user_1')).toBe(true);
  });

  it('reads the database only as fast as the client, and stops reading when the client leaves', async () => {
    pulled.count = 0;
    pulled.returned = false;
    // A plain HTTP client that reads one chunk and then stops reading: only kernel and stream
    // buffers (a few hundred KB) sit between it and the server.
    const accepted = once(t.app.getHttpServer(), 'request') as Promise<[IncomingMessage, ServerResponse]>;
    const req = get(`${base}?format=ndjson`, { headers: { 'accept-encoding': 'identity' } });
    const res = await new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
    await new Promise((r) => res.once('data', r));
    res.pause();
    try {
      const [, serverRes] = await accepted;
      // The server must come to wait on `drain`; without backpressure it never does, and reads
      // the whole table (closing the cursor at the end) instead.
      await vi.waitFor(() => expect(serverRes.listenerCount('drain') > 0 || pulled.returned).toBe(true), { timeout: 10_000 });
      expect(pulled.returned).toBe(false);
      expect(pulled.count).toBeGreaterThan(0);
      expect(pulled.count).toBeLessThan(N / 2);
    } finally {
      req.destroy();
    }
    await vi.waitFor(() => expect(pulled.returned).toBe(true), { timeout: 10_000 });
    // The cursor is closed: nothing more can be read, so this count is final.
    expect(pulled.count).toBeLessThan(N / 2);
  });
});
