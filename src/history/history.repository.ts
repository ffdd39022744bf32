import type { CompiledQuery } from 'kysely';
import type { Bucket, ScopeBuckets } from './history-buckets.js';
import type { HistoryRecord } from './history-records.js';
import type { HistoryFilter, HistoryRow, NewHistoryRow, SortKey } from './history.types.js';

/** One entry of {@link HistoryRepository.insertGuarded}. */
export interface GuardedRows {
  /** A conditional write (UPDATE … WHERE, INSERT … ON CONFLICT DO NOTHING): it took when it changed a row. */
  guard: CompiledQuery;
  rows: NewHistoryRow[];
}

/** Which way a keyset read goes from its key: `older` follows the API's order (newest first). */
export type SeekDirection = 'older' | 'newer';

/**
 * The storage port; also its DI token. One Kysely implementation serves both engines
 * ({@link KyselyHistoryRepository}); the engines differ only in how a connection is made.
 */
export abstract class HistoryRepository {
  /** Runs the schema migrations; idempotent. */
  abstract migrate(): Promise<void>;
  /** Resolves when the database answers a trivial query (readiness probe). */
  abstract ping(): Promise<void>;
  /**
   * Inserts every row and raises the day buckets of every scope the rows touch
   * (history-buckets.ts), all in one transaction: all or none. Returns the raised buckets as they
   * now are (none for no rows). Rows without `created_at` get the time of the call.
   */
  abstract insertMany(rows: NewHistoryRow[]): Promise<Bucket[]>;
  /**
   * Guarded writes, all in one transaction: for each entry, runs its `guard` (a caller's
   * conditional write on a table of its own, e.g. "store this result unless one is stored") and,
   * only when the guard changed a row, inserts that entry's history rows; then raises the day
   * buckets those rows fall into. So rows tied to a write that must happen once are stored once,
   * however often the caller retries. Returns which guards took, and the raised buckets.
   */
  abstract insertGuarded(entries: ReadonlyArray<GuardedRows>): Promise<{ applied: boolean[]; buckets: Bucket[] }>;
  /** Transactions `insertMany` has committed or tried so far (how well writes are grouped). */
  abstract get transactions(): number;
  /** Every bucket of `scope`, ascending by day; none for a scope never written. */
  abstract readBuckets(scope: string): Promise<ScopeBuckets>;
  /**
   * How many rows match `filter` on each UTC day of `days` (absent: none), counting only rows
   * created at or before `upTo` (so rows appended after a bucket was read are left out).
   */
  abstract countByDay(filter: HistoryFilter, days: readonly number[], upTo: number): Promise<Map<number, number>>;
  /** How many rows match. */
  abstract count(filter: HistoryFilter): Promise<number>;
  /**
   * Up to `limit` rows next to `from` (exclusive) in `direction`, returned newest first.
   * Without `from`, reads from the newest (`older`) or the oldest (`newer`) end.
   */
  abstract findRows(filter: HistoryFilter, opts: { from?: SortKey; direction: SeekDirection; limit: number }): Promise<HistoryRow[]>;
  /**
   * The key `skip` rows past `from` in `direction` (0 = the next row), read from the index alone;
   * undefined past the end. The building block of the page boundaries.
   */
  abstract seekKey(filter: HistoryFilter, opts: { from?: SortKey; direction: SeekDirection; skip: number }): Promise<SortKey | undefined>;
  /**
   * Every matching row, newest first, as records (arrays, `recordRow` makes the API's row of one)
   * in batches pulled from a database cursor; `return()` closes the cursor.
   */
  abstract streamRecords(filter: HistoryFilter): AsyncIterableIterator<HistoryRecord[]>;
  /**
   * Periodic upkeep of the storage, cheap and never waiting on a lock. SQLite: checkpoints the
   * write-ahead log, truncating it when no export reads (so a log that grew while long exports held
   * their snapshots shrinks once they end). PostgreSQL: nothing (the server does its own). A no-op
   * once closed.
   */
  abstract maintain(): Promise<void>;
  /** The secret that signs cursors, kept in the database. */
  abstract cursorSecret(): Promise<Buffer>;
  /** Closes the database. */
  abstract close(): Promise<void>;
}

/** The sort key of a row as the API returns it. */
export function keyOf(row: HistoryRow): SortKey {
  return { createdAt: Date.parse(row.created_at), id: Number(row.id) };
}
