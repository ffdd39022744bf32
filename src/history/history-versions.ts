import { LRUCache } from 'lru-cache';
import { newerBucket, type Bucket, type ScopeBuckets } from './history-buckets.js';

/** Reads every bucket of one scope from the database, ascending by day (none for a scope never written). */
export type BucketReader = (scope: string) => Promise<ScopeBuckets>;

/**
 * This process's copy of the day buckets (history-buckets.ts), per scope, each trusted for at most
 * `freshnessMs` after the read that fetched it began. The buckets are the data versions: every
 * cache key of history is derived from them, so a write on another process is seen within
 * `freshnessMs` plus one read, and a write of this process at once ({@link learn}). With
 * `freshnessMs` 0 every call reads the database. Nothing is pushed between processes: the
 * database is the only source, so no replica can miss a write.
 *
 * A scope's list is replaced, never changed in place, so callers may memoise work per list object.
 */
export class DataVersionCache {
  private readonly known: LRUCache<string, { buckets: ScopeBuckets; readAt: number }>;
  private readonly reading = new Map<string, Promise<ScopeBuckets>>();

  constructor(
    private readonly read: BucketReader,
    readonly freshnessMs: number,
    private readonly now: () => number = () => performance.now(),
    maxScopes = 10_000,
  ) {
    if (!Number.isFinite(freshnessMs) || freshnessMs < 0) throw new RangeError(`freshnessMs must be ≥ 0, got ${freshnessMs}`);
    this.known = new LRUCache({ max: maxScopes });
  }

  /** The buckets of `scope`, re-read when the copy is older than the bound (concurrent callers share one read). */
  async bucketsOf(scope: string): Promise<ScopeBuckets> {
    const started = this.now();
    const k = this.known.get(scope);
    if (k && started - k.readAt < this.freshnessMs) return k.buckets;
    let pending = this.reading.get(scope);
    if (!pending) {
      pending = this.read(scope).finally(() => this.reading.delete(scope));
      this.reading.set(scope, pending);
    }
    const fresh = await pending;
    return this.note(scope, fresh, started);
  }

  /** Takes the buckets a write of this process produced (read-your-writes); scopes not held are skipped. */
  learn(buckets: readonly Bucket[]): void {
    const byScope = new Map<string, Bucket[]>();
    for (const b of buckets) {
      if (!this.known.has(scope(b))) continue;
      const list = byScope.get(b.scope) ?? [];
      list.push(b);
      byScope.set(b.scope, list);
    }
    for (const [s, list] of byScope) {
      const k = this.known.get(s)!;
      this.known.set(s, { buckets: merge(k.buckets, list), readAt: k.readAt });
    }
  }

  /**
   * Counters only grow, so a read that raced a write this process learned can never take a day
   * back; the time is taken from the read.
   */
  private note(s: string, fresh: ScopeBuckets, readAt: number): ScopeBuckets {
    const k = this.known.get(s);
    const buckets = k ? merge(fresh, k.buckets) : fresh;
    if (!k || readAt >= k.readAt) this.known.set(s, { buckets, readAt });
    return buckets;
  }
}

const scope = (b: Bucket) => b.scope;

/** `base` with each day of `changes` replaced by the newer of the two states, ascending by day. */
function merge(base: ScopeBuckets, changes: readonly Bucket[]): ScopeBuckets {
  if (changes.length === 0) return base;
  const byDay = new Map(base.map((b) => [b.day, b]));
  let same = true;
  for (const c of changes) {
    const old = byDay.get(c.day);
    const next = old ? newerBucket(old, c) : c;
    if (next !== old) {
      byDay.set(c.day, next);
      same = false;
    }
  }
  if (same) return base;
  return [...byDay.values()].sort((a, b) => a.day - b.day);
}
