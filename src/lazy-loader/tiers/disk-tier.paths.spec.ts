import { existsSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SymlinkRefusedError } from '../../common/fs/private-paths.js';
import { packItems } from '../compression.js';
import { heapBytesOf } from '../heap-size.js';
import { tempDir } from '../testing/temp-loader.js';
import { DISK_CACHE_FILE, DiskTier } from './disk-tier.js';

const options = (dir: string) => ({ dir, maxBytes: 1024 * 1024, maxEntries: 100, ttlMs: 60_000, compression: 'gzip' as const, compressionThreshold: 1024 });
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe(`${DiskTier.name}: its files`, () => {
  let tmp: ReturnType<typeof tempDir>;
  let previousUmask: number;
  beforeEach(() => {
    tmp = tempDir();
    // A permissive umask, as on most hosts: the modes below must not depend on it.
    previousUmask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(previousUmask);
    tmp.cleanup();
  });

  it('creates its directory 0700 and its database, WAL and shared-memory files 0600', async () => {
    const dir = join(tmp.dir, 'cache');
    const sut = new DiskTier(options(dir));
    await sut.set('k', packItems([1, 2, 3]), heapBytesOf([1, 2, 3]));
    try {
      expect(modeOf(dir).toString(8)).toBe('700');
      for (const f of [DISK_CACHE_FILE, `${DISK_CACHE_FILE}-wal`, `${DISK_CACHE_FILE}-shm`]) {
        expect(modeOf(join(dir, f)).toString(8), f).toBe('600');
      }
    } finally {
      sut.close();
    }
  });

  it.each([DISK_CACHE_FILE, `${DISK_CACHE_FILE}-wal`, `${DISK_CACHE_FILE}-shm`])(
    'refuses to start when %s is a dangling symbolic link, and creates nothing where it points',
    (name) => {
      const dir = join(tmp.dir, 'cache');
      const outside = join(tmp.dir, 'outside');
      mkdirSync(dir);
      mkdirSync(outside);
      const link = join(dir, name);
      symlinkSync(join(outside, 'planted'), link);
      let caught: unknown;
      try {
        new DiskTier(options(dir)).close();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SymlinkRefusedError);
      expect((caught as Error).message).toContain(link);
      expect(existsSync(join(outside, 'planted'))).toBe(false);
    },
  );

  it('refuses a cache directory that is a symbolic link', () => {
    const outside = join(tmp.dir, 'outside');
    mkdirSync(outside);
    const dir = join(tmp.dir, 'cache');
    symlinkSync(outside, dir);
    expect(() => new DiskTier(options(dir))).toThrow(dir);
    expect(existsSync(join(outside, DISK_CACHE_FILE))).toBe(false);
  });
});
