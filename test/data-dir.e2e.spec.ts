import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/test-app.js';

const P = '/api/v14/lazy';
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('DATA_DIR on disk (e2e)', () => {
  let base: string;
  let previousUmask: number;
  let t: TestApp | undefined;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'captions-datadir-'));
    // A permissive umask, as on most hosts: the modes checked below must not depend on it.
    previousUmask = process.umask(0o022);
  });
  afterEach(async () => {
    process.umask(previousUmask);
    await t?.close();
    t = undefined;
    rmSync(base, { recursive: true, force: true });
  });

  it('creates DATA_DIR 0700 and every database, journal and cache file in it 0600', async () => {
    const dataDir = join(base, 'data');
    t = await createTestApp({ dataDir, env: { LAZY_DATA_SIZE: 'medium' } });
    // A caption writes the history (WAL) and a chunk to the disk tier.
    await request(t.app.getHttpServer()).post(`${P}/captions`).send({ content_description: 'Foggy harbour at dawn' }).expect(200);
    expect(modeOf(dataDir)).toBe('700');
    expect(modeOf(join(dataDir, 'cache'))).toBe('700');
    for (const file of ['history.sqlite', 'history.sqlite-wal', 'history.sqlite-shm', 'cache/lazy-chunks.sqlite', 'cache/lazy-chunks.sqlite-wal', 'cache/lazy-chunks.sqlite-shm']) {
      expect(modeOf(join(dataDir, file)), file).toBe('600');
    }
  });

  it('restricts a database file an earlier version left readable', async () => {
    const dataDir = join(base, 'data');
    mkdirSync(dataDir);
    new Database(join(dataDir, 'history.sqlite')).close();
    chmodSync(join(dataDir, 'history.sqlite'), 0o644);
    t = await createTestApp({ dataDir });
    expect(modeOf(join(dataDir, 'history.sqlite'))).toBe('600');
  });

  const planted = (name: string) => join(base, 'outside', name);

  it.each([
    ['the history database', 'history.sqlite'],
    ['the history WAL file', 'history.sqlite-wal'],
    ['the disk cache file', 'cache/lazy-chunks.sqlite'],
  ])('refuses to start when %s is a dangling symbolic link, naming it, and writes nothing outside', async (_what, file) => {
    const dataDir = join(base, 'data');
    mkdirSync(join(dataDir, 'cache'), { recursive: true });
    mkdirSync(join(base, 'outside'));
    const link = join(dataDir, file);
    symlinkSync(planted('stolen.sqlite'), link);
    const started = createTestApp({ dataDir, env: { LAZY_DATA_SIZE: 'medium' } });
    await expect(started).rejects.toThrow(link);
    expect(existsSync(planted('stolen.sqlite'))).toBe(false);
  });

  it('refuses to start when the disk cache directory is a symbolic link, naming it', async () => {
    const dataDir = join(base, 'data');
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(join(base, 'outside'));
    symlinkSync(join(base, 'outside'), join(dataDir, 'cache'));
    await expect(createTestApp({ dataDir, env: { LAZY_DATA_SIZE: 'medium' } })).rejects.toThrow(join(dataDir, 'cache'));
    expect(existsSync(planted('lazy-chunks.sqlite'))).toBe(false);
  });
});
