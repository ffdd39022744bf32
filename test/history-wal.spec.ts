import Database from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openHistoryDatabase, type HistoryDatabaseHandle } from '../src/history/history-database.js';
import { KyselyHistoryRepository } from '../src/history/kysely-history.repository.js';
import { historyRow } from './support/history-databases.js';

const MB = 1024 * 1024;

describe('SQLite write-ahead log upkeep', () => {
  let dir: string;
  let file: string;
  let handle: HistoryDatabaseHandle;
  let sut: KyselyHistoryRepository;
  let next = 0;
  const write = (n: number) => sut.insertMany(Array.from({ length: n }, () => historyRow(next++)));
  const walSize = () => statSync(`${file}-wal`).size;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'history-wal-'));
    file = join(dir, 'history.sqlite');
    handle = openHistoryDatabase(`sqlite:${file}`, { sqliteWalLimitBytes: MB });
    sut = new KyselyHistoryRepository(handle);
    await sut.migrate();
    await write(1000);
  });
  afterEach(async () => {
    await sut.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('checkpoints without waiting: PASSIVE while a stream reads, TRUNCATE to zero bytes once none does', async () => {
    const rows = handle.streamArrays(CompiledQuery.raw('select * from caption_history'), 100);
    await rows.next();
    await write(20_000);
    expect(handle.checkpoint!()).toMatchObject({ mode: 'PASSIVE' });
    expect(walSize()).toBeGreaterThan(4 * MB);
    await rows.return!();
    expect(handle.checkpoint!()).toMatchObject({ mode: 'TRUNCATE', busy: false });
    expect(walSize()).toBe(0);
  });

  it('reports busy while another process reads, and truncates once it is done', async () => {
    const other = new Database(file, { readonly: true });
    const reading = other.prepare('select id from caption_history').iterate();
    reading.next();
    await write(2000);
    expect(handle.checkpoint!()).toMatchObject({ mode: 'TRUNCATE', busy: true });
    reading.return!();
    other.close();
    expect(handle.checkpoint!()).toMatchObject({ mode: 'TRUNCATE', busy: false });
    expect(walSize()).toBe(0);
  });

  it('cuts the log back to the size limit when writes restart it after a long read', async () => {
    // A reader outside this handle, so only the size limit can shrink the file.
    const other = new Database(file, { readonly: true });
    const reading = other.prepare('select id from caption_history').iterate();
    reading.next();
    await write(20_000);
    expect(walSize()).toBeGreaterThan(4 * MB);
    reading.return!();
    other.close();
    // The first write checkpoints the whole log (it is past the auto-checkpoint size); the next restarts it.
    await write(10);
    await write(10);
    expect(walSize()).toBeLessThanOrEqual(MB);
  });
});
