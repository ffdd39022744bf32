import { createHash } from 'node:crypto';
import type { HistoryFilter, NewHistoryRow } from './history.types.js';

/**
 * Day buckets: the unit in which the database tells readers what changed.
 *
 * `history_buckets(scope, day, rows, oldest, newest, shifts)` holds, per scope (`all`,
 * `user:<user_id>`, `style:<style>`) and UTC day, how many rows it has, its oldest and newest
 * `created_at`, and `shifts`: how many writes put a row at or before the bucket's newest row (a
 * backdated row, or a tie). Every insert raises its buckets in the same transaction as the rows.
 *
 * Why both counters: a write whose rows are all newer than everything in their bucket (every live
 * caption) only *appends*: the rows already there keep their positions counted from the bucket's
 * oldest row. Only a write that lands among them (`shifts`) moves them. The read path keys its
 * chunks on that (see history-layout.ts), so live writes leave everything but the newest chunk of
 * a view cached, and a backdated row moves only the chunks of the days it falls into.
 */
export const DAY_MS = 86_400_000;

/** One bucket as stored; numbers (PostgreSQL's BIGINT strings are converted on the way out). */
export interface Bucket {
  scope: string;
  day: number;
  rows: number;
  oldest: number;
  newest: number;
  shifts: number;
}

/** The buckets of one scope, ascending by day. */
export type ScopeBuckets = readonly Bucket[];

export const ALL_SCOPE = 'all';

/** The UTC day of an epoch-milliseconds time (floor, so times before 1970 fall in negative days). */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** SQL for {@link dayOf} over `created_at` that truncating integer division makes agree in both engines. */
export const DAY_OF_CREATED_AT_SQL = `(case when created_at >= 0 then created_at / ${DAY_MS} else (created_at + 1) / ${DAY_MS} - 1 end)`;

/**
 * The bucket scope a view reads: its user's when it names one (also with a style: a user's
 * buckets move on every write that can change any of their views), else its style's, else `all`.
 */
export function bucketScopeOf(filter: HistoryFilter): string {
  if (filter.userId !== undefined) return `user:${filter.userId}`;
  if (filter.style !== undefined) return `style:${filter.style}`;
  return ALL_SCOPE;
}

/** Whether a bucket's `rows` is the view's own count for a whole day (no narrower filter than the scope). */
export function bucketCountsAreExact(filter: HistoryFilter): boolean {
  return filter.userId === undefined || filter.style === undefined;
}

/**
 * What a batch of rows adds to each bucket, `all` first and then by scope and day: every writer
 * takes the bucket rows' locks in one order, so concurrent writers on PostgreSQL never deadlock.
 */
export function bucketDeltas(rows: ReadonlyArray<NewHistoryRow & { created_at: Date }>): Bucket[] {
  const out = new Map<string, Bucket>();
  const add = (scope: string, at: number) => {
    const day = dayOf(at);
    const key = `${scope}\u0000${day}`;
    const b = out.get(key);
    if (!b) out.set(key, { scope, day, rows: 1, oldest: at, newest: at, shifts: 0 });
    else {
      b.rows += 1;
      b.oldest = Math.min(b.oldest, at);
      b.newest = Math.max(b.newest, at);
    }
  };
  for (const r of rows) {
    const at = r.created_at.getTime();
    add(ALL_SCOPE, at);
    // A filter never matches a row without a user by user, so it has no user bucket.
    if (r.user_id !== null) add(`user:${r.user_id}`, at);
    add(`style:${r.style}`, at);
  }
  return [...out.values()].sort((a, b) =>
    a.scope === b.scope ? a.day - b.day : a.scope === ALL_SCOPE ? -1 : b.scope === ALL_SCOPE ? 1 : a.scope < b.scope ? -1 : 1,
  );
}

/** The newer of two states of one bucket (every counter only grows). */
export function newerBucket(a: Bucket, b: Bucket): Bucket {
  return b.rows > a.rows || b.shifts > a.shifts ? b : a;
}

/** A short, stable name for a user id in cache keys (ids are free text). */
function userPart(userId: string | undefined): string {
  return userId === undefined ? '*' : createHash('sha256').update(userId).digest('base64url').slice(0, 12);
}

/** The part of a view's cache keys that names its user and style (`*` for none), so keys read as what they hold. */
export function scopePrefix(filter: HistoryFilter): string {
  return `${userPart(filter.userId)}.${filter.style ?? '*'}:`;
}
