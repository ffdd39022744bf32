/** Nearest-rank percentile (NaN for no values). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Least-squares line through `(x, y)` points: slope and intercept (NaN with fewer than 2 points). */
export function linearFit(points: ReadonlyArray<readonly [number, number]>): { slope: number; intercept: number } {
  const n = points.length;
  if (n < 2) return { slope: NaN, intercept: NaN };
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** One route's figures for one minute of the run. */
export interface RouteMinute {
  minute: number;
  route: string;
  count: number;
  /** Answered with a status outside 2xx. */
  non2xx: number;
  /** No answer, a broken or incomplete body, or a stream that ended with an error item. */
  errors: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  /** The first few error messages, to say what went wrong. */
  samples: string[];
}

interface Bucket {
  latencies: number[];
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
  samples: string[];
}

/** Latencies and outcomes per route, bucketed by the minute of the run they ended in. */
export class MinuteRecorder {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly t0: number) {}

  minuteOf(at: number): number {
    return Math.floor((at - this.t0) / 60_000) + 1;
  }

  /** One answer (`status` 0 when none came); `error` when it failed, `detail` to say why a non-2xx came. */
  record(route: string, latencyMs: number, status: number, error?: string, at = Date.now(), detail?: string): void {
    const key = `${this.minuteOf(at)}\t${route}`;
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { latencies: [], non2xx: 0, errors: 0, statuses: {}, samples: [] }));
    b.latencies.push(latencyMs);
    b.statuses[String(status)] = (b.statuses[String(status)] ?? 0) + 1;
    if (error !== undefined) {
      b.errors += 1;
      if (b.samples.length < 5) b.samples.push(error);
    } else if (status < 200 || status > 299) {
      b.non2xx += 1;
      if (b.samples.length < 5) b.samples.push(detail ? `status ${status}: ${detail}` : `status ${status}`);
    }
  }

  /** Every bucket of minutes up to `through` (all when absent), each summarised. */
  rows(through = Infinity): RouteMinute[] {
    const out: RouteMinute[] = [];
    for (const [key, b] of this.buckets) {
      const [m, route] = key.split('\t') as [string, string];
      const minute = Number(m);
      if (minute > through) continue;
      out.push({ minute, route, count: b.latencies.length, non2xx: b.non2xx, errors: b.errors, p50: round(percentile(b.latencies, 50)), p99: round(percentile(b.latencies, 99)), statuses: b.statuses, samples: b.samples });
    }
    return out.sort((a, b) => a.minute - b.minute || a.route.localeCompare(b.route));
  }

  /** Forgets minutes up to `through` (already reported). */
  drop(through: number): void {
    for (const key of this.buckets.keys()) if (Number(key.split('\t')[0]) <= through) this.buckets.delete(key);
  }
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export const MiB = 1024 * 1024;
