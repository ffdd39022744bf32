import { createHash } from 'node:crypto';
import type { Bucket } from './history-buckets.js';

/** One day of a view: how many of its rows fall on that day, and the scope's bucket for the day. */
export interface ViewDay {
  day: number;
  count: number;
  bucket: Bucket;
}

/**
 * Consecutive days of a view whose rows are cut into chunks ("parts") of `chunkSize`, counted from
 * the group's oldest row. Part `k` holds the group's rows at ascending positions
 * `[k·chunkSize, k·chunkSize + n)`.
 */
export interface ViewGroup {
  firstDay: number;
  lastDay: number;
  /** Ascending position, in the whole view, of the group's oldest row. */
  start: number;
  count: number;
  /** The chunk-source key of the group's full parts; a part with fewer rows adds `.n<rows>`. */
  readonly key: string;
}

/** Where every row of a view sits, as of one state of its buckets. */
export interface ViewLayout {
  total: number;
  groups: ViewGroup[];
}

/** A position in a layout: the group, the part in it, and the row's index in the part (0 = its oldest). */
export interface PartAddress {
  group: ViewGroup;
  part: number;
  offset: number;
}

/**
 * Cuts a view into groups, from its oldest day on: a group takes days until it holds at least
 * `chunkSize` rows (one dense day is a group of its own; sparse days share one), so parts are
 * about `chunkSize` rows whatever the density.
 *
 * A group's key names its days, the row count of every day but its last, and its last day's
 * `shifts`. That is exactly what its full parts depend on: rows are only ever added, so a day
 * whose count did not change holds the same rows; and rows added to the last day without a
 * shift are newer than every row there (live captions), so they land after every full part.
 * Hence a live write re-keys only the newest part of its view, and a backdated row only the
 * group of the day it falls into (and the grouping after it when it closes a group earlier).
 * Every input comes from the database, so every replica and every restart computes the same keys.
 */
export function layoutOf(days: readonly ViewDay[], chunkSize: number, keyBase: string): ViewLayout {
  const groups: ViewGroup[] = [];
  let open: ViewDay[] = [];
  let openCount = 0;
  let start = 0;
  const close = () => {
    groups.push(new DayGroup(open, start, openCount, keyBase));
    start += openCount;
    open = [];
    openCount = 0;
  };
  for (const d of days) {
    if (d.count === 0) continue;
    open.push(d);
    openCount += d.count;
    if (openCount >= chunkSize) close();
  }
  if (open.length > 0) close();
  return { total: start, groups };
}

/** A group whose key is hashed only when a read needs it (a layout has a group per dense day). */
class DayGroup implements ViewGroup {
  readonly firstDay: number;
  readonly lastDay: number;
  private hashed?: string;

  constructor(
    private readonly days: readonly ViewDay[],
    readonly start: number,
    readonly count: number,
    private readonly keyBase: string,
  ) {
    this.firstDay = days[0]!.day;
    this.lastDay = days.at(-1)!.day;
  }

  get key(): string {
    if (this.hashed === undefined) {
      const before = this.days.slice(0, -1).map((d) => [d.day, d.count]);
      const last = this.days.at(-1)!;
      const sig = createHash('sha256').update(JSON.stringify([before, last.day, last.bucket.shifts])).digest('base64url').slice(0, 16);
      this.hashed = `${this.keyBase}:${this.firstDay}-${this.lastDay}.${sig}`;
    }
    return this.hashed;
  }
}

/** The group, part and offset of ascending position `q` (0 = the view's oldest row); undefined outside the view. */
export function addressOf(layout: ViewLayout, q: number, chunkSize: number): PartAddress | undefined {
  if (q < 0 || q >= layout.total) return undefined;
  const gs = layout.groups;
  let lo = 0;
  let hi = gs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (gs[mid]!.start <= q) lo = mid;
    else hi = mid - 1;
  }
  const group = gs[lo]!;
  const within = q - group.start;
  return { group, part: Math.floor(within / chunkSize), offset: within % chunkSize };
}

/** How many rows part `part` of `group` holds. */
export function partRows(group: ViewGroup, part: number, chunkSize: number): number {
  return Math.max(0, Math.min(chunkSize, group.count - part * chunkSize));
}

/** The chunk-source key of a part: full parts share the group's key, a shorter one names its row count. */
export function partKey(group: ViewGroup, part: number, chunkSize: number): string {
  const n = partRows(group, part, chunkSize);
  return n === chunkSize ? group.key : `${group.key}.n${n}`;
}
