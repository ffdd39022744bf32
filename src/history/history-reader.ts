import type { Cache } from '@nestjs/cache-manager';
import { LRUCache } from 'lru-cache';
import type { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import type { ChunkSource } from '../lazy-loader/lazy-loader.types.js';
import { bucketCountsAreExact, bucketScopeOf, DAY_MS, dayOf, scopePrefix, type ScopeBuckets } from './history-buckets.js';
import { filterFingerprint, type CursorPosition } from './history-cursor.js';
import { addressOf, layoutOf, partKey, partRows, type ViewDay, type ViewGroup, type ViewLayout } from './history-layout.js';
import { keyOf, type HistoryRepository } from './history.repository.js';
import type { DataVersionCache } from './history-versions.js';
import type { HistoryFilter, HistoryRow, SortKey } from './history.types.js';

const KEY_PREFIX = 'history:';

/** Rows of one read, newest first, and where they sit. */
export interface ReadResult {
  items: HistoryRow[];
  total: number;
  hasNext: boolean;
  hasPrevious: boolean;
  /** Every chunk the read touched came from the lazy loader's tiers. */
  cacheHit: boolean;
}

const compare = (a: SortKey, b: SortKey) => a.createdAt - b.createdAt || a.id - b.id;

/** One read's chunk lookups: each part looked up once, and whether the ones that gave rows came from the tiers. */
class PartReads {
  private readonly parts = new Map<string, Promise<{ rows: HistoryRow[]; cached: boolean }>>();
  private readonly used = new Set<string>();

  constructor(private readonly load: (group: ViewGroup, part: number) => Promise<{ rows: HistoryRow[]; cached: boolean }>) {}

  /** Part `part` of `group`, newest first; `rows` says the page takes rows from it (a probe does not). */
  async get(group: ViewGroup, part: number, rows = false): Promise<HistoryRow[]> {
    const id = `${group.key}:${part}`;
    let p = this.parts.get(id);
    if (!p) {
      p = this.load(group, part);
      this.parts.set(id, p);
    }
    if (rows) this.used.add(id);
    return (await p).rows;
  }

  /** Every part the page took rows from came from the tiers. */
  async cacheHit(): Promise<boolean> {
    for (const id of this.used) if (!(await this.parts.get(id)!).cached) return false;
    return true;
  }
}

/**
 * Reads pages of history through the lazy loader, by number or by cursor, from chunks addressed
 * from the oldest end of day groups (history-layout.ts): rows arriving at the head never move a
 * chunk behind it, and a cursor walk reads the same cached chunks as pages by number.
 */
export class HistoryReader {
  /** Layouts per bucket list (replaced on every change) and filter. */
  private readonly layouts = new WeakMap<ScopeBuckets, Map<string, ViewLayout>>();
  /** Keyset start of part k (the key of the row before it), per group key: a part past the first is one seek. */
  private readonly starts = new LRUCache<string, SortKey>({ max: 50_000 });

  constructor(
    private readonly repo: HistoryRepository,
    private readonly loader: LazyLoaderService,
    private readonly versions: DataVersionCache,
    private readonly counts: Cache,
    readonly chunkSize: number,
  ) {}

  /** Where every row of the view sits now (as of its buckets, at most `HISTORY_FRESHNESS_MS` old). */
  async layout(filter: HistoryFilter): Promise<ViewLayout> {
    const buckets = await this.versions.bucketsOf(bucketScopeOf(filter));
    const fp = filterFingerprint(filter);
    let byFilter = this.layouts.get(buckets);
    const memo = byFilter?.get(fp);
    if (memo) return memo;
    const lo = filter.from === undefined ? -Infinity : dayOf(filter.from);
    const hi = filter.to === undefined ? Infinity : dayOf(filter.to);
    const inRange = buckets.filter((b) => b.day >= lo && b.day <= hi);
    const days = await this.dayCounts(filter, fp, inRange);
    const layout = layoutOf(days, this.chunkSize, `${KEY_PREFIX}${scopePrefix(filter)}${fp}`);
    if (!byFilter) {
      byFilter = new Map();
      this.layouts.set(buckets, byFilter);
    }
    byFilter.set(fp, layout);
    return layout;
  }

  /**
   * The view's count per day: a bucket's own count where the view is the bucket's scope for the
   * whole day; else counted in the database once per state of the bucket, kept in the keyed cache.
   */
  private async dayCounts(filter: HistoryFilter, fp: string, buckets: ScopeBuckets): Promise<ViewDay[]> {
    const exact = bucketCountsAreExact(filter);
    const whole = (day: number) =>
      (filter.from === undefined || filter.from <= day * DAY_MS) && (filter.to === undefined || filter.to >= (day + 1) * DAY_MS - 1);
    const out: ViewDay[] = buckets.map((b) => ({ day: b.day, count: exact && whole(b.day) ? b.rows : -1, bucket: b }));
    const open = out.filter((d) => d.count < 0);
    if (open.length === 0) return out;
    const keys = open.map((d) => `${KEY_PREFIX}${fp}:day:${d.day}.${d.bucket.rows}.${d.bucket.shifts}`);
    const cached = await this.counts.mget<number>(keys);
    const missing = open.filter((d, i) => {
      const c = cached[i];
      if (typeof c === 'number') d.count = c;
      return typeof c !== 'number';
    });
    if (missing.length > 0) {
      const upTo = Math.max(...missing.map((d) => d.bucket.newest));
      const counted = await this.repo.countByDay(filter, missing.map((d) => d.day), upTo);
      for (const d of missing) d.count = counted.get(d.day) ?? 0;
      await this.counts.mset(missing.map((d) => ({ key: `${KEY_PREFIX}${fp}:day:${d.day}.${d.bucket.rows}.${d.bucket.shifts}`, value: d.count })));
    }
    return out;
  }

  /** Page `page` (from 1) of `pageSize` rows, newest first: exactly the rows at those offsets in the layout. */
  page(filter: HistoryFilter, page: number, pageSize: number): Promise<ReadResult> {
    return this.loader.trackPage(() => this.readPage(filter, page, pageSize));
  }

  /** Up to `pageSize` rows past a cursor's key in its direction, newest first. */
  afterCursor(filter: HistoryFilter, position: CursorPosition, pageSize: number): Promise<ReadResult> {
    return this.loader.trackPage(() => this.readAfterCursor(filter, position, pageSize));
  }

  private async readPage(filter: HistoryFilter, page: number, pageSize: number): Promise<ReadResult> {
    const layout = await this.layout(filter);
    const reads = this.reads(filter);
    const n = layout.total;
    const offset = (page - 1) * pageSize;
    const hi = n - 1 - offset;
    const lo = Math.max(0, n - offset - pageSize);
    const items = hi < 0 ? [] : await this.between(layout, reads, lo, hi);
    return { items, total: n, hasNext: hi >= 0 && lo > 0, hasPrevious: page > 1, cacheHit: await reads.cacheHit() };
  }

  private async readAfterCursor(filter: HistoryFilter, position: CursorPosition, pageSize: number): Promise<ReadResult> {
    const layout = await this.layout(filter);
    const reads = this.reads(filter);
    const n = layout.total;
    let lo: number;
    let hi: number;
    if (position.direction === 'older') {
      hi = (await this.rank(layout, reads, position.key, false)) - 1;
      lo = Math.max(0, hi - pageSize + 1);
    } else {
      lo = await this.rank(layout, reads, position.key, true);
      hi = Math.min(n - 1, lo + pageSize - 1);
    }
    const items = hi < lo || hi < 0 ? [] : await this.between(layout, reads, lo, hi);
    const hasOlder = items.length > 0 ? lo > 0 : position.direction === 'newer' && lo > 0;
    const hasNewer = items.length > 0 ? hi < n - 1 : position.direction === 'older' && hi + 1 < n;
    return { items, total: n, hasNext: hasOlder, hasPrevious: hasNewer, cacheHit: await reads.cacheHit() };
  }

  /** The rows at ascending positions `lo..hi`, newest first. */
  private async between(layout: ViewLayout, reads: PartReads, lo: number, hi: number): Promise<HistoryRow[]> {
    const spans: Array<{ group: ViewGroup; part: number; from: number; to: number }> = [];
    for (let q = hi; q >= lo; ) {
      const a = addressOf(layout, q, this.chunkSize)!;
      const partStart = a.group.start + a.part * this.chunkSize;
      spans.push({ group: a.group, part: a.part, from: a.offset, to: Math.max(0, lo - partStart) });
      q = partStart - 1;
    }
    const loaded = await Promise.all(spans.map((s) => reads.get(s.group, s.part, true)));
    const out: HistoryRow[] = [];
    spans.forEach((s, i) => {
      const rows = loaded[i]!;
      for (let o = s.from; o >= s.to; o--) {
        const row = rows[rows.length - 1 - o];
        if (row) out.push(row);
      }
    });
    return out;
  }

  /** How many rows of the view sort before `key` (or at it, with `inclusive`), read from the parts. */
  private async rank(layout: ViewLayout, reads: PartReads, key: SortKey, inclusive: boolean): Promise<number> {
    const day = dayOf(key.createdAt);
    const group = layout.groups.find((g) => g.firstDay <= day && day <= g.lastDay);
    if (!group) return layout.groups.find((g) => g.firstDay > day)?.start ?? layout.total;
    const below = (row: HistoryRow) => {
      const c = compare(keyOf(row), key);
      return c < 0 || (inclusive && c === 0);
    };
    const parts = Math.ceil(group.count / this.chunkSize);
    // The last part whose rows before it all sort below the key: from the part starts learned when
    // full parts were loaded (no lookup at all in a walk), else by bisection over the parts.
    let k: number | undefined = 0;
    for (let j = 1; j < parts; j++) {
      const start = this.starts.get(`${group.key}|${j}`);
      if (!start) {
        k = undefined;
        break;
      }
      const c = compare(start, key);
      if (c < 0 || (inclusive && c === 0)) k = j;
      else break;
    }
    if (k === undefined) {
      let lo = -1;
      let hi = parts - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        const oldest = (await reads.get(group, mid)).at(-1);
        if (oldest && below(oldest)) lo = mid;
        else hi = mid - 1;
      }
      if (lo < 0) return group.start;
      k = lo;
    }
    const rows = await reads.get(group, k);
    let count = 0;
    for (let i = rows.length - 1; i >= 0 && below(rows[i]!); i--) count++;
    return group.start + k * this.chunkSize + count;
  }

  private reads(filter: HistoryFilter): PartReads {
    return new PartReads(async (group, part) => {
      const chunk = await this.loader.getChunk(this.source(filter, group, part), part);
      return { rows: chunk.items, cached: chunk.tier !== 'source' };
    });
  }

  /** The chunk source of one part: `chunkSize` rows (fewer for the newest) from the group's oldest end. */
  private source(filter: HistoryFilter, group: ViewGroup, part: number): ChunkSource<HistoryRow> {
    const n = partRows(group, part, this.chunkSize);
    const within: HistoryFilter = {
      ...filter,
      from: Math.max(filter.from ?? -Infinity, group.firstDay * DAY_MS),
      to: Math.min(filter.to ?? Infinity, (group.lastDay + 1) * DAY_MS - 1),
    };
    return {
      key: partKey(group, part, this.chunkSize),
      chunkSize: this.chunkSize,
      loadChunk: async (index) => {
        const startId = `${group.key}|${index}`;
        let from = index === 0 ? undefined : this.starts.get(startId);
        if (index > 0 && !from) from = await this.repo.seekKey(within, { direction: 'newer', skip: index * this.chunkSize - 1 });
        const rows = index > 0 && !from ? [] : await this.repo.findRows(within, { from, direction: 'newer', limit: n });
        if (rows.length === this.chunkSize) this.starts.set(`${group.key}|${index + 1}`, keyOf(rows[0]!));
        return rows;
      },
    };
  }
}
