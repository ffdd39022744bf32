import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { MB } from '../../config/units.js';
import { ensurePrivateDir, refuseSymlinks, restrictFiles, sqliteFiles, SymlinkRefusedError } from '../../common/fs/private-paths.js';
import { Codec, decodeChunk, encodeChunk, unpackItems } from '../compression.js';
import type { CompressionType } from '../loader-config.js';
import type { DiskHealth } from '../lazy-loader.types.js';

export interface DiskTierOptions {
  /** Directory of the cache file (created mode 0700 if missing; never a symbolic link). */
  dir: string;
  /** Bound on stored (compressed) bytes. */
  maxBytes: number;
  /** Bound on entries. */
  maxEntries: number;
  /** Milliseconds an entry stays fresh. */
  ttlMs: number;
  compression: CompressionType;
  /** Entries whose MessagePack is larger than this are compressed. */
  compressionThreshold: number;
  /** Clock in ms; `Date.now` by default. */
  now?: () => number;
  /** A hard cap on the file in SQLite pages (`PRAGMA max_page_count`): a disk that is full. */
  maxFilePages?: number;
}

export interface DiskHit {
  items: unknown[];
  /** The items' estimated heap bytes, as given to `set` (what the memory tier counts). */
  sizeBytes: number;
  stale: boolean;
}

interface Row {
  codec: number;
  raw_bytes: number;
  item_bytes: number;
  digest: Buffer;
  data: Buffer;
  expires_at: number;
}

/** SQLite errors meaning "the file is damaged": the cache is rebuilt empty. */
const CORRUPT_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB']);
/** Below this much free space the readiness probe reports the disk tier as unhealthy. */
const MIN_FREE_BYTES = 64 * MB;
export const DISK_CACHE_FILE = 'lazy-chunks.sqlite';

const errorCode = (err: unknown): string => (err as { code?: string }).code ?? 'error';

/** Most entries one eviction pass removes in its transaction. */
const EVICT_BATCH = 64;
/** Where eviction stops: 1/16 under the bound (the bound itself when it is under 16). */
const lowMark = (bound: number): number => bound - Math.floor(bound / 16);

/**
 * The entries' table. Its name is the format's version: a file written by a version that stored
 * another format has its old table dropped on open (every such entry is a miss, never read).
 */
const TABLE = 'chunks_v2';
/** Tables of earlier formats (JSON payloads, sha256 digests). */
const OLD_TABLES = ['chunks'];

/**
 * CRC-32 over everything a row claims: its key, codec, sizes and payload. An integrity check
 * against a damaged file or another entry's bytes (the key is covered), not against someone
 * who can write the file (the directory is the service's own, 0700): CRC-32 runs about 4× faster
 * than sha256 here, on payloads stored uncompressed.
 */
function digestOf(key: string, codec: number, rawBytes: number, itemBytes: number, data: Buffer): Buffer {
  const head = crc32(`${key}\0${codec}:${rawBytes}:${itemBytes}\0`);
  const digest = Buffer.alloc(4);
  digest.writeUInt32BE(crc32(data, head));
  return digest;
}

/**
 * The disk tier: one SQLite file of blobs under `dir`. Chunk ids are primary keys, never paths.
 * Each write is one transaction (WAL): a crash leaves the old row or the new one. Each read
 * checks the row's CRC-32 (which covers the key, so another entry's bytes fail too); a mismatch
 * or a damaged file is a counted miss and the row is removed. A write that fails (full disk,
 * read-only directory) is skipped and counted; nothing here ever throws at a caller, but for
 * the constructor refusing a symbolic link (below). The directory is 0700 and the files 0600.
 */
export class DiskTier {
  private db: Database.Database | null = null;
  private readonly now: () => number;
  private readonly file: string;
  /** Reads only note access times; they are written in batches, not one write per read. */
  private readonly touched = new Map<string, number>();
  private stmts!: ReturnType<DiskTier['prepare']>;
  hits = 0;
  misses = 0;
  evictions = 0;
  corrupt = 0;
  writeErrors = 0;
  compressionSavings = 0;
  bytes = 0;
  entries = 0;
  /** Code of the last failure (`SQLITE_FULL`, `EACCES`…): never a message, which could carry a path. */
  lastError: string | undefined;

  /**
   * Opens (or creates) the tier. A tier that cannot be opened (read-only directory, full disk)
   * starts closed and counts its writes as errors.
   * @throws SymlinkRefusedError when the directory, the database file or one of its journal
   *   files is a symbolic link, dangling or not: SQLite would create or write the file wherever
   *   the link points.
   */
  constructor(readonly options: DiskTierOptions) {
    // Read through `Date` on each call, so fake timers drive expiry.
    this.now = options.now ?? (() => Date.now());
    this.file = join(options.dir, DISK_CACHE_FILE);
    this.open();
  }

  /** Closed for good ({@link close}): never reopened. */
  private closed = false;

  get isOpen(): boolean {
    return this.db !== null;
  }

  private open(): void {
    try {
      ensurePrivateDir(this.options.dir);
      this.db = this.connect();
    } catch (err) {
      if (err instanceof SymlinkRefusedError) throw err;
      if (CORRUPT_CODES.has((err as { code?: string }).code ?? '')) {
        this.corrupt++;
        this.reset();
        return;
      }
      this.fail(err);
    }
  }

  private connect(): Database.Database {
    refuseSymlinks(sqliteFiles(this.file));
    const db = new Database(this.file);
    try {
      // Before WAL is on: SQLite gives the -wal and -shm files the database file's mode.
      restrictFiles(sqliteFiles(this.file));
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode survives a killed process; only an OS crash may lose the last commits.
      db.pragma('synchronous = NORMAL');
      if (this.options.maxFilePages) db.pragma(`max_page_count = ${this.options.maxFilePages}`);
      for (const old of OLD_TABLES) db.exec(`DROP TABLE IF EXISTS ${old}`);
      db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (
        key TEXT PRIMARY KEY, codec INTEGER NOT NULL, raw_bytes INTEGER NOT NULL, item_bytes INTEGER NOT NULL,
        stored_bytes INTEGER NOT NULL, digest BLOB NOT NULL, data BLOB NOT NULL,
        expires_at INTEGER NOT NULL, accessed_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ${TABLE}_accessed ON ${TABLE}(accessed_at);
        CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE}(expires_at);`);
      this.db = db;
      this.stmts = this.prepare(db);
      const t = this.stmts.totals.get() as { n: number; b: number | null };
      this.entries = t.n;
      this.bytes = t.b ?? 0;
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private prepare(db: Database.Database) {
    return {
      get: db.prepare(`SELECT codec, raw_bytes, item_bytes, digest, data, expires_at FROM ${TABLE} WHERE key = ?`),
      size: db.prepare(`SELECT stored_bytes FROM ${TABLE} WHERE key = ?`).pluck(),
      put: db.prepare(`INSERT OR REPLACE INTO ${TABLE} (key, codec, raw_bytes, item_bytes, stored_bytes, digest, data, expires_at, accessed_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      del: db.prepare(`DELETE FROM ${TABLE} WHERE key = ? RETURNING stored_bytes`).pluck(),
      delRange: db.prepare(`DELETE FROM ${TABLE} WHERE key >= ? AND key < ? RETURNING stored_bytes`).pluck(),
      delExpired: db.prepare(`DELETE FROM ${TABLE} WHERE expires_at <= ? RETURNING stored_bytes`).pluck(),
      oldest: db.prepare(`SELECT key FROM ${TABLE} ORDER BY accessed_at LIMIT ?`).pluck(),
      touch: db.prepare(`UPDATE ${TABLE} SET accessed_at = ? WHERE key = ?`),
      totals: db.prepare(`SELECT COUNT(*) AS n, SUM(stored_bytes) AS b FROM ${TABLE}`),
    };
  }

  /** A damaged file is only a cache: drop it and start empty. */
  private reset(): void {
    try {
      this.db?.close();
    } catch {
      /* already unusable */
    }
    this.db = null;
    for (const f of [this.file, `${this.file}-wal`, `${this.file}-shm`]) rmSync(f, { force: true });
    try {
      this.db = this.connect();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    this.lastError = errorCode(err);
    this.db = null;
  }

  /** Runs `fn` against the open database; a damaged file is reset, other errors are returned. */
  private guard<R>(fn: (db: Database.Database) => R): { ok: true; value: R } | { ok: false; error: unknown } {
    if (!this.db) return { ok: false, error: new Error(this.lastError ?? 'disk cache unavailable') };
    try {
      return { ok: true, value: fn(this.db) };
    } catch (error) {
      this.lastError = errorCode(error);
      if (CORRUPT_CODES.has((error as { code?: string }).code ?? '')) {
        this.corrupt++;
        this.reset();
      }
      return { ok: false, error };
    }
  }

  /**
   * Reads and verifies `key`. Expired entries are misses (and removed) unless `allowStale`.
   * Never throws: any failure is a counted miss.
   */
  async get(key: string, allowStale = false): Promise<DiskHit | undefined> {
    const r = this.guard(() => this.stmts.get.get(key) as Row | undefined);
    if (!r.ok || !r.value) return this.miss();
    const row = r.value;
    const stale = row.expires_at <= this.now();
    if (stale && !allowStale) {
      this.remove(key);
      return this.miss();
    }
    if (
      !Buffer.isBuffer(row.data) ||
      !Buffer.isBuffer(row.digest) ||
      !digestOf(key, row.codec, row.raw_bytes, row.item_bytes, row.data).equals(row.digest)
    ) {
      return this.corruptEntry(key);
    }
    try {
      const packed = decodeChunk(row.codec, row.data);
      if (packed.length !== row.raw_bytes) return this.corruptEntry(key);
      const items = unpackItems(packed);
      if (!Array.isArray(items)) return this.corruptEntry(key);
      this.touch(key);
      this.hits++;
      return { items, sizeBytes: row.item_bytes, stale };
    } catch {
      return this.corruptEntry(key);
    }
  }

  private miss(): undefined {
    this.misses++;
    return undefined;
  }

  private corruptEntry(key: string): undefined {
    this.corrupt++;
    this.remove(key);
    return this.miss();
  }

  private touch(key: string): void {
    this.touched.set(key, this.now());
    if (this.touched.size >= 256) this.flushTouches();
  }

  private flushTouches(): void {
    if (this.touched.size === 0) return;
    const batch = [...this.touched];
    this.touched.clear();
    this.guard((db) => db.transaction(() => batch.forEach(([k, at]) => this.stmts.touch.run(at, k)))());
  }

  /**
   * Stores `packed` (the chunk's items as MessagePack, `packItems`) under `key` with the items'
   * estimated heap bytes, compressed above the threshold, in one transaction, then evicts the
   * least recently read entries past the bounds. A failed write (full disk, read-only
   * directory) is counted in `writeErrors` and skipped.
   */
  async set(key: string, packed: Buffer, itemBytes: number): Promise<void> {
    if (!this.db) {
      this.writeErrors++;
      return;
    }
    const enc = await encodeChunk(packed, this.options.compression, this.options.compressionThreshold);
    const digest = digestOf(key, enc.codec, enc.rawBytes, itemBytes, enc.payload);
    const now = this.now();
    const r = this.guard((db) =>
      db.transaction(() => {
        const old = this.stmts.size.get(key) as number | undefined;
        this.stmts.put.run(key, enc.codec, enc.rawBytes, itemBytes, enc.payload.length, digest, enc.payload, now + this.options.ttlMs, now);
        return old;
      })(),
    );
    if (!r.ok) {
      this.writeErrors++;
      return;
    }
    if (r.value === undefined) this.entries++;
    this.bytes += enc.payload.length - (r.value ?? 0);
    if (enc.codec !== Codec.MSGPACK) this.compressionSavings += enc.rawBytes - enc.payload.length;
    this.enforceBounds();
  }

  /**
   * Past a bound, removes the least recently read entries until both are back under their low
   * marks ({@link lowMark}), up to {@link EVICT_BATCH} in one transaction per pass: with a full
   * tier, the read of the oldest keys and the commit are paid once per ~1/16 of the bound's writes
   * rather than on every write.
   */
  private enforceBounds(): void {
    const { maxBytes, maxEntries } = this.options;
    if (this.bytes <= maxBytes && this.entries <= maxEntries) return;
    const lowBytes = lowMark(maxBytes);
    const lowEntries = lowMark(maxEntries);
    const underLow = (bytes: number, entries: number) => bytes <= lowBytes && entries <= lowEntries;
    while (this.db && !underLow(this.bytes, this.entries)) {
      this.flushTouches();
      const r = this.guard((db) =>
        db.transaction(() => {
          const sizes: number[] = [];
          let bytes = this.bytes;
          let entries = this.entries;
          for (const key of this.stmts.oldest.all(EVICT_BATCH) as string[]) {
            if (underLow(bytes, entries)) break;
            const removed = this.stmts.del.all(key) as number[];
            for (const size of removed) {
              sizes.push(size);
              bytes -= size;
              entries -= 1;
            }
          }
          return sizes;
        })(),
      );
      // Counted only once committed: a failed pass rolled back removed nothing.
      if (!r.ok || r.value.length === 0) break;
      this.evictions += this.account(r.value);
    }
  }

  /** @returns true when a row was removed. */
  private remove(key: string): boolean {
    this.touched.delete(key);
    const r = this.guard(() => this.stmts.del.all(key) as number[]);
    return r.ok && this.account(r.value) > 0;
  }

  private account(removedSizes: number[]): number {
    this.entries -= removedSizes.length;
    this.bytes -= removedSizes.reduce((a, b) => a + b, 0);
    return removedSizes.length;
  }

  /** Drops every entry whose key starts with `prefix`. */
  deletePrefix(prefix: string): number {
    for (const k of this.touched.keys()) if (k.startsWith(prefix)) this.touched.delete(k);
    // Keys are compared as UTF-8 bytes (BINARY collation): every key with the prefix sorts in [prefix, prefix + U+10FFFF).
    const r = this.guard(() => this.stmts.delRange.all(prefix, `${prefix}\u{10FFFF}`) as number[]);
    return r.ok ? this.account(r.value) : 0;
  }

  clear(): void {
    this.touched.clear();
    const r = this.guard((db) => db.exec(`DELETE FROM ${TABLE}`));
    if (r.ok) {
      this.entries = 0;
      this.bytes = 0;
    }
  }

  /** The scheduled sweep: expired rows out, bounds enforced, access times written, space returned. */
  sweep(): { expired: number } {
    this.flushTouches();
    const r = this.guard(() => this.stmts.delExpired.all(this.now()) as number[]);
    const expired = r.ok ? this.account(r.value) : 0;
    this.enforceBounds();
    this.guard((db) => db.pragma('incremental_vacuum'));
    return { expired };
  }

  /**
   * For the readiness probe: open, directory writable, enough free space. A tier that could not
   * open (its volume read-only or missing at start) tries again here, so it comes back once the
   * volume does, without a restart; the probe's period paces the attempts.
   */
  async health(): Promise<DiskHealth> {
    if (!this.db && !this.closed) {
      try {
        this.open();
      } catch (err) {
        // A symbolic link put in the tier's place since start: the tier stays closed.
        this.fail(err);
      }
    }
    let writable = false;
    let freeMb: number | null = null;
    let error = this.lastError;
    try {
      await access(this.options.dir, fsConstants.W_OK);
      writable = true;
      const s = await statfs(this.options.dir);
      freeMb = (s.bavail * s.bsize) / MB;
    } catch (err) {
      error = errorCode(err);
    }
    const ok = this.isOpen && writable && freeMb !== null && freeMb * MB >= MIN_FREE_BYTES;
    return {
      ok,
      detail: { open: this.isOpen, writable, free_mb: freeMb, size_mb: this.bytes / MB, entries: this.entries, ...(error && !ok ? { error } : {}) },
    };
  }

  close(): void {
    this.closed = true;
    this.flushTouches();
    this.db?.close();
    this.db = null;
  }
}
