import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { HistoryFilter, NewHistoryRow } from './history.types.js';

/**
 * Data versions, kept in the database next to the rows (`history_versions`): one counter per
 * scope, raised in the same transaction as the rows it covers, so every process sharing the
 * database, and every restart, sees the same versions.
 *
 * Scopes: `all` (every write), `user:<user_id>` (a write with a row of that user),
 * `style:<style>` (a write with a row of that style) and `user-style:["<user_id>","<style>"]` (a
 * write with a row of both). A view depends on the one scope its filter names (`all` when it names
 * neither user nor style); the date bounds narrow a view without changing what can move it. So a
 * view's version changes on every write that can change the view, and on no other. Counters only
 * grow, which lets a reader keep the largest version it has seen of each.
 */
export type ScopeVersions = ReadonlyMap<string, number>;

export const ALL_SCOPE = 'all';

/** The scopes a batch of rows raises, `all` first. */
export function scopesOfRows(rows: readonly NewHistoryRow[]): string[] {
  const scopes = new Set<string>([ALL_SCOPE]);
  for (const r of rows) {
    // A filter never matches a row without a user, so such a row has no user scope to raise.
    if (r.user_id !== null) {
      scopes.add(`user:${r.user_id}`);
      scopes.add(userStyleScope(r.user_id, r.style));
    }
    scopes.add(`style:${r.style}`);
  }
  return [...scopes];
}

/** JSON, because a user id is free text and could hold any separator. */
function userStyleScope(userId: string, style: string): string {
  return `user-style:${JSON.stringify([userId, style])}`;
}

/** The scope a view with `filter` depends on. */
export function scopeOfFilter(filter: HistoryFilter): string {
  if (filter.userId !== undefined && filter.style !== undefined) return userStyleScope(filter.userId, filter.style);
  if (filter.userId !== undefined) return `user:${filter.userId}`;
  if (filter.style !== undefined) return `style:${filter.style}`;
  return ALL_SCOPE;
}

/** A short, stable name for a user id in cache keys (ids are free text). */
function userPart(userId: string | null | undefined): string {
  return userId === undefined || userId === null ? '*' : createHash('sha256').update(userId).digest('base64url').slice(0, 12);
}

/**
 * The part of a view's cache key that names the scopes it depends on (`<user>.<style>`, `*` for
 * none), so a write can drop exactly the views it may change by key prefix.
 */
export function scopePrefix(filter: HistoryFilter): string {
  return `${userPart(filter.userId)}.${filter.style ?? '*'}:`;
}

/** The scope prefixes ({@link scopePrefix}) of every view a batch of rows may change. */
export function affectedPrefixes(rows: readonly NewHistoryRow[]): string[] {
  const out = new Set<string>();
  for (const r of rows) {
    for (const userId of r.user_id === null ? [undefined] : [undefined, r.user_id]) {
      out.add(scopePrefix({ userId }));
      out.add(scopePrefix({ userId, style: r.style }));
    }
  }
  return [...out];
}

/** Reads the current versions of some scopes from the database (a scope never written is 0). */
export type VersionReader = (scopes: string[]) => Promise<ScopeVersions>;

/**
 * This process's copy of the data versions, each trusted for at most `freshnessMs` after the read
 * that fetched it began. A write on another process is thus seen within `freshnessMs` plus one
 * read; a write of this process is learned at once ({@link learn}). With `freshnessMs` 0 every call
 * reads the database. Nothing is pushed between processes: the database is the only source.
 */
export class DataVersionCache {
  private readonly known: LRUCache<string, { version: number; readAt: number }>;

  constructor(
    private readonly read: VersionReader,
    readonly freshnessMs: number,
    private readonly now: () => number = () => performance.now(),
    maxScopes = 10_000,
  ) {
    if (!Number.isFinite(freshnessMs) || freshnessMs < 0) throw new RangeError(`freshnessMs must be ≥ 0, got ${freshnessMs}`);
    this.known = new LRUCache({ max: maxScopes });
  }

  /** The version of a view over `scopes`: the largest of theirs, re-read where older than the bound. */
  async versionOf(scopes: readonly string[]): Promise<number> {
    const started = this.now();
    const stale = scopes.filter((s) => {
      const k = this.known.get(s);
      return k === undefined || started - k.readAt >= this.freshnessMs;
    });
    if (stale.length > 0) {
      const fresh = await this.read(stale);
      for (const s of stale) this.note(s, fresh.get(s) ?? 0, started);
    }
    let max = 0;
    for (const s of scopes) max = Math.max(max, this.known.get(s)?.version ?? 0);
    return max;
  }

  /** Takes the versions a write of this process produced (read-your-writes). */
  learn(versions: ScopeVersions): void {
    const at = this.now();
    for (const [s, v] of versions) this.note(s, v, at);
  }

  /**
   * Counters only grow, so a read that raced a newer write can never lower what is known; it
   * refreshes the time only when it brings nothing older.
   */
  private note(scope: string, version: number, readAt: number): void {
    const k = this.known.get(scope);
    if (k && k.version > version) return;
    this.known.set(scope, { version, readAt: k && k.version === version ? Math.max(k.readAt, readAt) : readAt });
  }
}
