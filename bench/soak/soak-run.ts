import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LoadPlan, LoadRoute } from './load.js';
import { API, ROOT, SOAK_API_KEY, type ServerProcess } from './server-process.js';
import { linearFit, MiB, MinuteRecorder, round, type RouteMinute } from './stats.js';
import { StreamLoops } from './streams.js';

export interface SoakOptions {
  minutes: number;
  warmupMinutes: number;
  streams: number;
  variations: number;
  connections: number;
  /** Seconds between RSS samples (the slope is fitted over all samples after the warm-up). */
  sampleSeconds: number;
  /**
   * `all` (default): judge the RSS slope and its native part's (RSS minus V8's heap total). `off`:
   * report them, judge neither, for runs too short for the process to reach its working size (in
   * CI's two minutes both still grow in steps while the post-GC heap is flat).
   */
  rssGoal: 'all' | 'off';
}

export interface MemoryMinute {
  minute: number;
  /** Mean and peak of the RSS samples taken in the minute (MiB). */
  rssMeanMiB: number;
  rssMaxMiB: number;
  /** `nodejs_heap_size_used_bytes` from the server's /metrics at the minute's end (MiB). */
  heapUsedMiB: number;
  /** Heap left after a forced full GC at the minute's end (MiB), and how long that GC took. */
  postGcHeapMiB: number;
  gcMs: number;
  /** RSS right after that GC (MiB). */
  postGcRssMiB: number;
  /** V8's heap reserved (before the GC), and memory outside it (Buffers, native) after it (MiB). */
  heapTotalMiB: number;
  externalMiB: number;
  openFds: number;
  activeStreams: number;
  historyFileMiB: number;
  /** Bytes the lazy loader's memory tier counts for its entries (`/cache/status`), bounded by its budget (MiB). */
  memoryTierMiB: number;
}

/** A goal the runner judges, and the figure it judged. */
export interface Goal {
  goal: string;
  met: boolean;
  figure: string;
  /** `false`: reported, not part of the verdict. */
  judged?: boolean;
}

export interface SoakResult {
  options: SoakOptions;
  routes: RouteMinute[];
  memory: MemoryMinute[];
  rssSamples: Array<[minutes: number, mib: number]>;
  totals: { requests: number; errors: number; non2xx: number };
  rssSlopeMiBPerMin: number;
  nativeSlopeMiBPerMin: number;
  nativeSamples: Array<[minutes: number, mib: number]>;
  postGcHeap: { warmupMiB: number; endMiB: number; maxMiB: number; growth: number };
  after: { activeStreams: number; openFds: number; idleFds: number };
  goals: Goal[];
  /** The server's warnings and errors, counted by message. */
  serverLog: Record<string, number>;
}

/** Shares of the mixed load's connections per route (the rest of `connections` goes to history pages). */
const LANE_SHARES: Array<[LoadRoute, number]> = [
  ['captions', 0.3],
  ['batch', 0.08],
  ['stats', 0.1],
];
/** Exports a client may run at once (EXPORT_MAX_PER_CLIENT's default): more would be refused with 429 by design. */
const EXPORT_LANES = 2;

export function lanesFor(connections: number): Partial<Record<LoadRoute, number>> {
  const lanes: Partial<Record<LoadRoute, number>> = { export: Math.min(EXPORT_LANES, connections) };
  let left = connections - lanes.export!;
  for (const [route, share] of LANE_SHARES) {
    lanes[route] = Math.min(left, Math.max(1, Math.round(connections * share)));
    left -= lanes[route];
  }
  lanes.history = left;
  return lanes;
}

/** The loader's figures the soak reads: streams open, and the bytes the memory tier counts against its budget. */
interface LoaderStats {
  active_streams: number;
  tiers: { memory: { bytes: number } };
}

async function stats(server: ServerProcess): Promise<LoaderStats> {
  const r = await fetch(`${server.url}${API}/stats`, { headers: { 'x-api-key': SOAK_API_KEY }, signal: AbortSignal.timeout(30_000) });
  return (await r.json()) as LoaderStats;
}

/** Runs the load child; resolves with every minute row it reported. */
export function runLoad(plan: LoadPlan, onRows: (rows: RouteMinute[]) => void): Promise<void> {
  const child = spawn(process.execPath, ['--import', './scripts/swc-register.mjs', 'bench/soak/load.ts', JSON.stringify(plan)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const m = JSON.parse(line) as { type: string; rows?: RouteMinute[] };
      if (m.type === 'minute' && m.rows) onRows(m.rows);
    } catch {
      process.stderr.write(`load: ${line}\n`);
    }
  });
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load generator exited with ${code}`)))));
}

const PROBE_ROUTE = 'probe /health/ready';
/** A kubelet's default `failureThreshold`: this many failed probes in a row take a pod out of rotation. */
const FAILURE_THRESHOLD = 3;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * The soak: `streams` long-lived streams and a `connections`-connection mixed load against one
 * server for `minutes`, the server's memory sampled all along, then the goals judged.
 */
export async function runSoak(server: ServerProcess, o: SoakOptions, log: (line: string) => void): Promise<SoakResult> {
  const idleFds = server.openFds();
  const t0 = Date.now();
  const rec = new MinuteRecorder(t0);
  const loadRows: RouteMinute[] = [];
  const streams = new StreamLoops({ url: server.url, streams: o.streams, variations: o.variations, batchItems: 5 }, rec);
  streams.start();
  const load = runLoad({ url: server.url, apiKey: SOAK_API_KEY, t0, seconds: o.minutes * 60, lanes: lanesFor(o.connections) }, (rows) => loadRows.push(...rows));

  // The readiness probe, at a kubelet's pace (every 5 s, answered within 5 s), counted like any route.
  // Judged as a kubelet judges it: a pod leaves rotation after FAILURE_THRESHOLD failures in a row.
  let probing = true;
  let failedInARow = 0;
  let mostFailedInARow = 0;
  const probe = (async () => {
    while (probing) {
      const t = performance.now();
      let ok = false;
      try {
        const r = await fetch(`${server.url}${API}/health/ready`, { signal: AbortSignal.timeout(5000) });
        const body = await r.text();
        ok = r.status === 200;
        rec.record(PROBE_ROUTE, performance.now() - t, r.status, undefined, Date.now(), ok ? undefined : body.slice(0, 300));
      } catch (err) {
        rec.record(PROBE_ROUTE, performance.now() - t, 0, (err as Error).message);
      }
      failedInARow = ok ? 0 : failedInARow + 1;
      mostFailedInARow = Math.max(mostFailedInARow, failedInARow);
      await sleep(5000);
    }
  })();
  const rssSamples: Array<[number, number]> = [];
  const memory: MemoryMinute[] = [];
  // Beside each RSS sample, V8's heap reservation at that moment: RSS minus heap total is the
  // memory outside V8's heap (native: SQLite, zlib, sockets, Buffers, code), where a native leak
  // would show without V8's own heap sizing (which grows in steps for minutes) hiding it.
  const nativeSamples: Array<[number, number]> = [];
  const sampler = setInterval(() => {
    const at = (Date.now() - t0) / 60_000;
    rssSamples.push([at, server.rssBytes() / MiB]);
    server
      .peek()
      .then((p) => nativeSamples.push([at, (p.rss - p.heapTotal) / MiB]))
      .catch(() => undefined);
  }, o.sampleSeconds * 1000);
  for (let minute = 1; minute <= o.minutes; minute++) {
    await sleep(Math.max(0, t0 + minute * 60_000 - Date.now()));
    const inMinute = rssSamples.filter(([m]) => m > minute - 1 && m <= minute).map(([, v]) => v);
    // The scrape is timed like a route: under full load it is one more request waiting its turn.
    const ts = performance.now();
    let heapUsed = NaN;
    try {
      heapUsed = await server.metricsHeapUsed();
      rec.record('scrape /metrics', performance.now() - ts, 200);
    } catch (err) {
      rec.record('scrape /metrics', performance.now() - ts, 0, (err as Error).message);
    }
    const nan = { rss: NaN, heapUsed: NaN, heapTotal: NaN, external: NaN, arrayBuffers: NaN };
    const gc = await server.gcProbe(60_000).catch((err: Error) => {
      log(`GC probe failed: ${err.message}`);
      return { gcMs: NaN, before: nan, after: nan };
    });
    const s = await stats(server).catch(() => ({ active_streams: NaN, tiers: { memory: { bytes: NaN } } }));
    const row: MemoryMinute = {
      minute,
      rssMeanMiB: round(inMinute.reduce((a, b) => a + b, 0) / inMinute.length),
      rssMaxMiB: round(Math.max(...inMinute)),
      heapUsedMiB: round(heapUsed / MiB),
      postGcHeapMiB: round(gc.after.heapUsed / MiB),
      gcMs: round(gc.gcMs),
      postGcRssMiB: round(gc.after.rss / MiB),
      heapTotalMiB: round(gc.before.heapTotal / MiB),
      externalMiB: round(gc.after.external / MiB),
      openFds: server.openFds(),
      activeStreams: s.active_streams,
      historyFileMiB: round(server.historyFileBytes() / MiB),
      memoryTierMiB: round(s.tiers.memory.bytes / MiB),
    };
    memory.push(row);
    const mine = rec.rows(minute).filter((r) => r.minute === minute);
    const errs = [...mine, ...loadRows.filter((r) => r.minute === minute)].reduce((a, r) => a + r.errors + r.non2xx, 0);
    log(`minute ${minute}: rss ${row.rssMeanMiB} MiB (max ${row.rssMaxMiB}), heap ${row.heapUsedMiB} MiB, post-GC heap ${row.postGcHeapMiB} MiB, fds ${row.openFds}, streams open ${s.active_streams}, history file ${row.historyFileMiB} MiB, errors+non2xx so far this minute ${errs}`);
  }
  clearInterval(sampler);
  log('stopping: waiting for the streams in flight and the load generator');
  probing = false;
  await Promise.all([streams.stop(), load, probe]);
  // Every stream ended: the server must hold none open, and its sockets must be back near idle.
  const deadline = Date.now() + 30_000;
  let after = await stats(server);
  while (after.active_streams > 0 && Date.now() < deadline) {
    await sleep(250);
    after = await stats(server);
  }
  const fdsAfter = server.openFds();

  const routes = [...rec.rows(), ...loadRows].sort((a, b) => a.minute - b.minute || a.route.localeCompare(b.route));
  const served = routes.filter((r) => r.route !== PROBE_ROUTE);
  const probes = routes.filter((r) => r.route === PROBE_ROUTE);
  const probeFailures = probes.reduce((a, r) => a + r.errors + r.non2xx, 0);
  const totals = served.reduce((t, r) => ({ requests: t.requests + r.count, errors: t.errors + r.errors, non2xx: t.non2xx + r.non2xx }), { requests: 0, errors: 0, non2xx: 0 });
  const fitted = rssSamples.filter(([m]) => m >= o.warmupMinutes);
  const rssSlope = linearFit(fitted).slope;
  const nativeFitted = nativeSamples.filter(([m]) => m >= o.warmupMinutes);
  const nativeSlope = linearFit(nativeFitted).slope;
  const warmIndex = Math.max(0, Math.ceil(o.warmupMinutes) - 1);
  const warm = memory[warmIndex]?.postGcHeapMiB ?? NaN;
  const end = memory.at(-1)?.postGcHeapMiB ?? NaN;
  const maxAfter = Math.max(...memory.slice(warmIndex).map((m) => m.postGcHeapMiB));
  const growth = (end - warm) / warm;
  // The memory tier fills towards its budget over minutes (new captions, new history chunks): the
  // heap it accounts for is bounded by configuration; what is left beside it is what could leak.
  const warmNet = warm - (memory[warmIndex]?.memoryTierMiB ?? NaN);
  const endNet = end - (memory.at(-1)?.memoryTierMiB ?? NaN);
  const netGrowth = (endNet - warmNet) / warmNet;
  const goals = [
    { goal: 'no errors and no non-2xx answers (the probe judged apart)', met: totals.errors === 0 && totals.non2xx === 0, figure: `${totals.errors} errors, ${totals.non2xx} non-2xx of ${totals.requests}` },
    {
      goal: `readiness never failed ${FAILURE_THRESHOLD} times in a row (a kubelet's failureThreshold)`,
      met: mostFailedInARow < FAILURE_THRESHOLD,
      figure: `${probeFailures} of ${probes.reduce((a, r) => a + r.count, 0)} probes failed, at most ${mostFailedInARow} in a row`,
    },
    { goal: `RSS slope after ${o.warmupMinutes} min warm-up <= 1 MiB/min`, met: rssSlope <= 1, figure: `${round(rssSlope, 2)} MiB/min over ${fitted.length} samples`, judged: o.rssGoal === 'all' },
    { goal: `native memory (RSS - V8 heap total) slope after ${o.warmupMinutes} min warm-up <= 1 MiB/min`, met: nativeSlope <= 1, figure: `${round(nativeSlope, 2)} MiB/min over ${nativeFitted.length} samples`, judged: o.rssGoal === 'all' },
    { goal: 'post-GC heap at the end within 10% of its warm-up value', met: Math.abs(growth) <= 0.1, figure: `${warm} -> ${end} MiB (${round(growth * 100)}%), max ${maxAfter}` },
    {
      goal: 'post-GC heap less the memory tier\'s bytes at the end within 10% of its warm-up value',
      met: Math.abs(netGrowth) <= 0.1,
      figure: `${round(warmNet)} -> ${round(endNet)} MiB (${round(netGrowth * 100)}%); the tier ${memory[warmIndex]?.memoryTierMiB} -> ${memory.at(-1)?.memoryTierMiB} MiB`,
      judged: false,
    },
    { goal: 'no stream left open on the server after the load', met: after.active_streams === 0, figure: `${after.active_streams} open` },
  ];
  return {
    options: o,
    routes,
    memory,
    rssSamples: rssSamples.map(([m, v]) => [round(m, 3), round(v)]),
    totals,
    rssSlopeMiBPerMin: round(rssSlope, 3),
    nativeSlopeMiBPerMin: round(nativeSlope, 3),
    nativeSamples: nativeSamples.map(([m, v]) => [round(m, 3), round(v)]),
    postGcHeap: { warmupMiB: warm, endMiB: end, maxMiB: maxAfter, growth: round(growth, 4) },
    after: { activeStreams: after.active_streams, openFds: fdsAfter, idleFds },
    goals,
    serverLog: Object.fromEntries(server.logCounts),
  };
}
