import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openHistoryDatabase } from '../../src/history/history-database.js';
import { KyselyHistoryRepository } from '../../src/history/kysely-history.repository.js';
import { seedRows } from '../../src/history/seed-rows.js';
import { runLoad, type Goal } from './soak-run.js';
import { API, ServerProcess, SOAK_API_KEY } from './server-process.js';
import { MiB, percentile, round, type RouteMinute } from './stats.js';

export interface SlowClientOptions {
  /** Trickling connections in all (four of them read an export at 1 KB/s, the rest split between slow headers and slow bodies). */
  tricklers: number;
  /** History rows seeded before the server starts (what the slow readers export). */
  rows: number;
  /** Seconds of healthy load measured without, then with, the tricklers. */
  phaseSeconds: number;
  /** Requests a second per healthy route (20 by default): more samples make a steadier p99. */
  rate?: number;
  /** The server's REQUEST_TIMEOUT_MS (its default when absent). */
  requestTimeoutMs?: number;
}

type Kind = 'slow headers' | 'slow body' | 'slow reader (1 KB/s export)';

interface Trickler {
  kind: Kind;
  socket: Socket;
  openedAt: number;
  closedAt?: number;
  /** How the server ended it: its answer's status line, a reset, or a plain close. */
  how?: string;
  received: Buffer[];
  receivedBytes: number;
  timer?: NodeJS.Timeout;
}

export interface SlowClientResult {
  rows: number;
  options: SlowClientOptions;
  healthy: Array<{ phase: string; route: string; count: number; non2xx: number; errors: number; p50: number; p99: number }>;
  tricklers: { total: number; deadlineS: number; kinds: Array<{ kind: Kind; opened: number; closedByServer: number; stillOpen: number; closedAfterS: { min: number; median: number; max: number }; how: Record<string, number>; bytesRead?: number }> };
  rss: { idleMiB: number; baselinePeakMiB: number; peakMiB: number; baselinePostGcMiB: number; postGcWithTricklersMiB: number };
  fds: { idle: number; peak: number; after: number };
  goals: Goal[];
}

/** The keys of the two export readers' clients (EXPORT_MAX_PER_CLIENT counts per key): four readers fill every export slot. */
const READER_KEYS = ['soak-reader-key-a-0123456789', 'soak-reader-key-b-0123456789'];
const READERS = 4;
const TRICKLE_EVERY_MS = 2000;
const READ_BYTES_PER_S = 1024;
/** How often Node's HTTP server checks its connections against headersTimeout and requestTimeout (its default). */
const CONNECTIONS_CHECKING_INTERVAL_MS = 30_000;
/**
 * A floor under the baseline p99. A p99 is a phase's few slowest requests, which one collection or
 * one scheduler time slice decides when the server, the runner and 500 sockets share 2 cores: the
 * baseline read 57 to 255 ms across runs, and the ratio with tricklers 0.83 to 1.68. Twice a
 * baseline that low would measure the machine, not the server. A trickler that pinned the loop
 * would cost seconds; an export written past `drain` raised the p99 by 140-350 ms (x2.3-2.6).
 */
const BASELINE_FLOOR_MS = 150;
/**
 * What the open tricklers may pin: the server's post-GC memory with all of them open, over the
 * baseline's, counted as V8's heap plus the memory outside it (`external`: Buffers, among them
 * socket writes waiting for the kernel, and native memory Node reports). Measured with 248 slow
 * bodies and 4 export readers open: +10 to +36 MiB in six runs, of it +10 MiB of heap and up to
 * +26 MiB of `external` that is not ArrayBuffers (with 2 slow bodies and the same 4 readers:
 * +7 MiB), so some 130 KiB per open request whose body trickles in. Bounded at 64 MiB, twice that.
 * An export buffered for its slow reader, as strings or as Buffers (200,000 rows: some 70 MB of
 * text per reader), would break it: written past `drain`, it read +343 MiB.
 */
const PINNED_BOUND_MIB = 64;

/** What a process holds after a collection: V8's heap and the memory outside it that JavaScript owns. */
const held = (m: NodeJS.MemoryUsage) => m.heapUsed + m.external;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function seed(dataDir: string, rows: number, log: (l: string) => void): Promise<void> {
  const repo = new KyselyHistoryRepository(openHistoryDatabase(`sqlite:${join(dataDir, 'history.sqlite')}`, { sqliteCacheKib: 256 * 1024 }));
  await repo.migrate();
  const plan = { rows, users: 1000, days: 90, endMs: Date.now() - 86_400_000 };
  const t = Date.now();
  await repo.bulkLoad(async () => {
    for (let done = 0; done < rows; done += 20_000) await repo.insertMany(seedRows(plan, done, 20_000));
  });
  await repo.close();
  log(`seeded ${rows} rows in ${round((Date.now() - t) / 1000)} s`);
}

function open(port: number, kind: Kind, localAddress: string, first: string, onOpen: (t: Trickler) => void): Trickler {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  const t: Trickler = { kind, socket, openedAt: Date.now(), received: [], receivedBytes: 0 };
  socket.setNoDelay(true);
  socket.on('connect', () => {
    t.openedAt = Date.now();
    socket.write(first);
    onOpen(t);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    t.how ??= err.code === 'ECONNRESET' ? 'reset' : (err.code ?? err.message);
  });
  socket.on('close', () => {
    t.closedAt ??= Date.now();
    clearInterval(t.timer);
    if (!t.how) {
      const head = Buffer.concat(t.received).subarray(0, 64).toString('latin1');
      t.how = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[0] ?? 'closed';
    }
  });
  return t;
}

/** Sends one more byte of the header block every few seconds, never ending it. */
function slowHeaders(port: number, addr: string): Trickler {
  return open(port, 'slow headers', addr, `GET ${API}/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `, (t) => {
    t.socket.on('data', (c: Buffer) => t.received.push(c));
    t.timer = setInterval(() => t.socket.writable && t.socket.write('a'), TRICKLE_EVERY_MS);
  });
}

/** Complete headers, then a JSON body of 4 KB at 10 bytes every few seconds. */
function slowBody(port: number, addr: string): Trickler {
  const head = `POST ${API}/captions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${SOAK_API_KEY}\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"content_description":"`;
  return open(port, 'slow body', addr, head, (t) => {
    t.socket.on('data', (c: Buffer) => t.received.push(c));
    t.timer = setInterval(() => t.socket.writable && t.socket.write('aaaaaaaaaa'), TRICKLE_EVERY_MS);
  });
}

/**
 * A whole-table export, read at 1 KB/s: the socket is paused and 1 KB taken off it each second.
 * Node reads the kernel only when its own buffer runs low (up to 64 KB a read), so a reset from
 * the server would be noticed a minute late: an empty line (CRLF, which HTTP lets a client send
 * between requests) written each second makes the kernel report it at once.
 */
function slowReader(port: number, addr: string, key: string): Trickler {
  const req = `GET ${API}/caption-history/export?format=ndjson HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${key}\r\nAccept-Encoding: identity\r\n\r\n`;
  return open(port, 'slow reader (1 KB/s export)', addr, req, (t) => {
    t.socket.pause();
    t.timer = setInterval(() => {
      const c = t.socket.read(Math.min(READ_BYTES_PER_S, t.socket.readableLength || READ_BYTES_PER_S)) as Buffer | null;
      if (t.socket.writable) t.socket.write('\r\n');
      if (!c) return;
      if (t.received.length < 1) t.received.push(c);
      t.receivedBytes += c.length;
    }, 1000);
  });
}

function summarise(rows: RouteMinute[], phase: string): SlowClientResult['healthy'] {
  const byRoute = new Map<string, RouteMinute[]>();
  for (const r of rows) byRoute.set(r.route, [...(byRoute.get(r.route) ?? []), r]);
  return [...byRoute].map(([route, rs]) => ({
    phase,
    route: route.replace(/^.*:/, ''),
    count: rs.reduce((a, r) => a + r.count, 0),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    // Minutes are merged by their worst: a phase is shorter than a minute, so there is one row, rarely two.
    p50: Math.max(...rs.map((r) => r.p50)),
    p99: Math.max(...rs.map((r) => r.p99)),
  }));
}

/**
 * The slow-client run: healthy clients measured alone (the baseline), then again while
 * `tricklers` slow connections hang on the server; then every trickler must be closed by the
 * server's own timeouts, the healthy p99 stay within twice the baseline, and the server's RSS
 * stay bounded.
 */
export async function runSlowClients(o: SlowClientOptions, log: (l: string) => void): Promise<SlowClientResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'captions-slow-'));
  await seed(dataDir, o.rows, log);
  const env: Record<string, string> = { API_KEYS: [SOAK_API_KEY, ...READER_KEYS].join(',') };
  if (o.requestTimeoutMs) env.REQUEST_TIMEOUT_MS = String(o.requestTimeoutMs);
  const server = await ServerProcess.start({ dataDir, env });
  const requestTimeoutMs = o.requestTimeoutMs ?? 120_000;
  const headersTimeoutMs = 15_000;
  const exportIdleMs = 30_000;
  const deadlineMs = Math.max(requestTimeoutMs, headersTimeoutMs, exportIdleMs) + CONNECTIONS_CHECKING_INTERVAL_MS + 15_000;
  let rssPeak = 0;
  let fdPeak = 0;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, server.rssBytes());
    fdPeak = Math.max(fdPeak, server.openFds());
  }, 250);
  try {
    const idleRss = server.rssBytes();
    const idleFds = server.openFds();
    log(`server pid ${server.pid}, idle RSS ${round(idleRss / MiB)} MiB; baseline: healthy load alone for ${o.phaseSeconds} s`);
    const healthy = (label: string) => ({ url: server.url, apiKey: SOAK_API_KEY, t0: Date.now(), seconds: o.phaseSeconds, lanes: { captions: 4, history: 6 }, ratePerLane: o.rate ?? 20, label });
    // A warm-up first (not judged): the heap grows to its working size under the first load, and
    // that growth would otherwise be charged to the tricklers.
    await runLoad(healthy('warm-up:'), () => undefined);
    rssPeak = 0;
    const baselineRows: RouteMinute[] = [];
    await runLoad(healthy('baseline:'), (rows) => baselineRows.push(...rows));
    const baselinePeak = rssPeak;
    const baseHeap = await server.gcProbe(60_000);

    const readers = Math.min(READERS, o.tricklers);
    const bodies = Math.floor((o.tricklers - readers) / 2);
    const headers = o.tricklers - readers - bodies;
    log(`opening ${headers} slow-header, ${bodies} slow-body and ${readers} slow-reader connections`);
    rssPeak = 0;
    const all: Trickler[] = [];
    let opened = 0;
    const port = server.port;
    // Slow headers from one address (as one slowloris host); slow bodies spread, eight per address,
    // so each reaches its handler (the per-address concurrency cap would refuse most from one).
    for (let i = 0; i < headers; i++) all.push(slowHeaders(port, '127.0.2.1'));
    for (let i = 0; i < bodies; i++) all.push(slowBody(port, `127.0.3.${1 + Math.floor(i / 8)}`));
    for (let i = 0; i < readers; i++) all.push(slowReader(port, `127.0.4.${1 + i}`, READER_KEYS[i % 2]!));
    for (const t of all) t.socket.once('connect', () => (opened += 1));
    const openDeadline = Date.now() + 30_000;
    while (opened < all.length && Date.now() < openDeadline) await sleep(50);
    log(`${opened} tricklers connected; healthy load again for ${o.phaseSeconds} s`);
    const trickleRows: RouteMinute[] = [];
    await runLoad(healthy('with tricklers:'), (rows) => trickleRows.push(...rows));
    const openNow = all.filter((t) => t.closedAt === undefined).length;
    const pinned = await server.gcProbe(60_000);
    const parts = (m: NodeJS.MemoryUsage) => `${round(held(m) / MiB)} MiB (heap ${round(m.heapUsed / MiB)}, external ${round(m.external / MiB)}, of it ArrayBuffers ${round(m.arrayBuffers / MiB)})`;
    log(`post-GC heap + external with ${openNow} tricklers still open: ${parts(pinned.after)}; baseline ${parts(baseHeap.after)}`);


    log(`waiting up to ${deadlineMs / 1000} s from each opening for the server to close every trickler`);
    const lastOpened = Math.max(...all.map((t) => t.openedAt));
    while (all.some((t) => t.closedAt === undefined) && Date.now() < lastOpened + deadlineMs) await sleep(250);
    const stillOpen = all.filter((t) => t.closedAt === undefined);
    for (const t of stillOpen) {
      clearInterval(t.timer);
      t.socket.destroy();
    }
    await sleep(1000);
    const fdsAfter = server.openFds();
    // The peak from the first trickler to the last one closed (the healthy load ran in the first part).
    const peakDuring = rssPeak;

    const kinds = (['slow headers', 'slow body', 'slow reader (1 KB/s export)'] as Kind[]).map((kind) => {
      const mine = all.filter((t) => t.kind === kind);
      const closed = mine.filter((t) => !stillOpen.includes(t));
      const after = closed.map((t) => (t.closedAt! - t.openedAt) / 1000);
      const how: Record<string, number> = {};
      for (const t of closed) how[t.how ?? '?'] = (how[t.how ?? '?'] ?? 0) + 1;
      return {
        kind,
        opened: mine.length,
        closedByServer: closed.length,
        stillOpen: mine.length - closed.length,
        closedAfterS: { min: round(Math.min(...after)), median: round(percentile(after, 50)), max: round(Math.max(...after)) },
        how,
        ...(kind.startsWith('slow reader') ? { bytesRead: mine.reduce((a, t) => a + t.receivedBytes, 0) } : {}),
      };
    });
    const base = summarise(baselineRows, 'baseline');
    const during = summarise(trickleRows, 'with tricklers');
    const ratioGoals = during.map((d) => {
      const b = base.find((x) => x.route === d.route);
      const ref = Math.max(b?.p99 ?? NaN, BASELINE_FLOOR_MS);
      return { goal: `healthy ${d.route} p99 with tricklers <= 2x baseline (floor ${BASELINE_FLOOR_MS} ms)`, met: d.p99 <= 2 * ref, figure: `${d.p99} ms vs baseline ${b?.p99} ms (x${round(d.p99 / (b?.p99 ?? NaN), 2)})` };
    });
    const healthyErrors = [...base, ...during].reduce((a, r) => a + r.errors + r.non2xx, 0);
    const goals = [
      { goal: 'healthy clients: no errors, no non-2xx', met: healthyErrors === 0, figure: `${healthyErrors}` },
      ...ratioGoals,
      { goal: `every trickler closed by the server within ${deadlineMs / 1000} s`, met: stillOpen.length === 0, figure: `${all.length - stillOpen.length} of ${all.length}` },
      {
        goal: `server post-GC heap + external with the tricklers open <= baseline's + ${PINNED_BOUND_MIB} MiB`,
        met: (held(pinned.after) - held(baseHeap.after)) / MiB <= PINNED_BOUND_MIB,
        figure: `${round(held(pinned.after) / MiB)} MiB vs ${round(held(baseHeap.after) / MiB)} MiB, ${openNow} tricklers open`,
      },
      { goal: 'server sockets back to idle afterwards (within 10 fds)', met: fdsAfter <= idleFds + 10, figure: `${fdsAfter} fds, ${idleFds} idle` },
    ];
    return {
      rows: o.rows,
      options: o,
      healthy: [...base, ...during],
      tricklers: { total: all.length, deadlineS: deadlineMs / 1000, kinds },
      rss: { idleMiB: round(idleRss / MiB), baselinePeakMiB: round(baselinePeak / MiB), peakMiB: round(peakDuring / MiB), baselinePostGcMiB: round(held(baseHeap.after) / MiB), postGcWithTricklersMiB: round(held(pinned.after) / MiB) },
      fds: { idle: idleFds, peak: fdPeak, after: fdsAfter },
      goals,
    };
  } finally {
    clearInterval(sampler);
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
