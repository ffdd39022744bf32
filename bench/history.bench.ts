import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';

// `npm run bench -- history`: 1,000,000 seeded rows in SQLite under a temp DATA_DIR; the server
// runs as a child process (its RSS is measured apart from this one).

const ROWS = Number(process.env.BENCH_HISTORY_ROWS ?? 1_000_000);
const PAGE_SIZE = 50;
const SAMPLES = 21;
const dataDir = mkdtempSync(join(tmpdir(), 'history-bench-'));
const dbFile = join(dataDir, 'history.sqlite');
const children: ChildProcess[] = [];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number) => `${n.toFixed(2)} ms`;
const ratio = (n: number, base: number) => `${(n / base).toFixed(2)}×`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts a child and waits until `ready` answers; returns its pid and base URL. */
async function start(args: string[], env: Record<string, string>, readyPath: string) {
  const port = await freePort();
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}${readyPath}`)).status < 500) return { child, base };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`child ${args.join(' ')} did not start`);
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    // A child already gone (exit code or signal) would never emit 'exit' again.
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Peak resident memory of a process so far (kernel's high-water mark), in MB. */
const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function timeGet(url: string): Promise<{ ms: number; body: unknown }> {
  const t = performance.now();
  const res = await fetch(url);
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - t, body };
}

/** Streams a whole export, counting rows (lines); no Accept-Encoding, so the bytes are the rows. */
function download(url: string): Promise<{ rows: number; ttfbMs: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    let ttfbMs = 0;
    let rows = 0;
    get(url, (res) => {
      res.on('data', (chunk: Buffer) => {
        if (ttfbMs === 0) ttfbMs = performance.now() - t;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
      });
      res.on('end', () => resolve({ rows, ttfbMs, seconds: (performance.now() - t) / 1000 }));
    }).on('error', reject);
  });
}

interface PageBody {
  pagination: { next_cursor: string | null; total_pages: number };
}

describe('history benchmark', () => {
  afterAll(async () => {
    await Promise.all(children.map(stop));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`pages and exports ${ROWS.toLocaleString('en')} rows`, async () => {
    const build = spawnSync(process.execPath, ['scripts/start.mjs', '--build-only'], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('build failed');
    // Deep pages by number are what this measures: let them reach every row.
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent', NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true', HISTORY_MAX_OFFSET: String(Math.max(1000, ROWS)) };

    // --- seeding ---
    const seed = spawnSync(process.execPath, ['dist/history/seed.cli.js', '--rows', String(ROWS), '--users', '5000', '--days', '365', '--quiet'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    if (seed.status !== 0) throw new Error(`seed failed: ${seed.stderr}`);
    const seeded = JSON.parse(seed.stdout.trim().split('\n').at(-1)!) as { rows_per_second: number; seconds: number; rows_per_cpu_second: number };

    // --- pages: every request reaches the database (no chunk cache, no prefetch) ---
    const api = '/api/v14/lazy/caption-history';
    const server = await start(['dist/main.js'], { ...env, LAZY_ENABLE_CACHING: 'false', LAZY_PREFETCH_CHUNKS: '0' }, '/api/v14/lazy/health/live');
    const lastPage = Math.ceil(ROWS / PAGE_SIZE);
    const pages = [1, 100, 10_000, lastPage].filter((p) => p <= lastPage);
    const sqlite = new Database(dbFile, { readonly: true });
    const offsetStmt = sqlite.prepare('select * from caption_history order by created_at desc, id desc limit ? offset ?');
    const results: Array<{ page: number; first: number; byPage: number; cached: number; byCursor: number; offset: number }> = [];
    for (const page of pages) {
      const pageUrl = `${server.base}${api}?page=${page}&page_size=${PAGE_SIZE}`;
      const first = (await timeGet(pageUrl)).ms; // the first request learns the chunk boundaries
      const byPage: number[] = [];
      for (let i = 0; i < SAMPLES; i++) byPage.push((await timeGet(pageUrl)).ms);
      // The cursor that leads to this page, from the page before it.
      const cursorUrl =
        page === 1
          ? `${server.base}${api}?page_size=${PAGE_SIZE}`
          : `${server.base}${api}?page_size=${PAGE_SIZE}&cursor=${((await timeGet(`${server.base}${api}?page=${page - 1}&page_size=${PAGE_SIZE}`)).body as PageBody).pagination.next_cursor}`;
      const byCursor: number[] = [];
      for (let i = 0; i < SAMPLES; i++) byCursor.push((await timeGet(cursorUrl)).ms);
      const offset: number[] = [];
      for (let i = 0; i < Math.min(SAMPLES, page > 1000 ? 7 : SAMPLES); i++) {
        const t = performance.now();
        offsetStmt.all(PAGE_SIZE, (page - 1) * PAGE_SIZE);
        offset.push(performance.now() - t);
      }
      results.push({ page, first, byPage: median(byPage), cached: 0, byCursor: median(byCursor), offset: median(offset) });
    }
    sqlite.close();
    await stop(server.child);

    // --- export: streamed from a cursor (fresh server, default config) vs building the whole array ---
    const streamed = await start(['dist/main.js'], env, '/api/v14/lazy/health/live');
    const idleRss = peakRssMb(streamed.child.pid!);
    const cpuBefore = cpuSeconds(streamed.child.pid!);
    const exp = await download(`${streamed.base}${api}/export?format=ndjson`);
    const exportCpu = cpuSeconds(streamed.child.pid!) - cpuBefore;
    const exportRss = peakRssMb(streamed.child.pid!);
    // The same pages with the lazy loader's cache on (the default): what a client paging sees.
    for (const r of results) {
      const pageUrl = `${streamed.base}${api}?page=${r.page}&page_size=${PAGE_SIZE}`;
      await timeGet(pageUrl);
      const cached: number[] = [];
      for (let i = 0; i < SAMPLES; i++) cached.push((await timeGet(pageUrl)).ms);
      r.cached = median(cached);
    }
    await stop(streamed.child);
    const naive = await start(['bench/support/history-array-server.mjs'], { DB_FILE: dbFile }, '/ready');
    const base = await download(`${naive.base}/export`);
    const baseRss = peakRssMb(naive.child.pid!);
    await stop(naive.child);
    if (exp.rows !== ROWS || base.rows !== ROWS) throw new Error(`export rows ${exp.rows}/${base.rows}, expected ${ROWS}`);

    const p1 = results[0]!;
    const lines = [
      '',
      `History pagination: ${ROWS.toLocaleString('en')} rows, page_size ${PAGE_SIZE}, p50 of ${SAMPLES} (ratio to page 1 of the same column)`,
      '| page | page= first request | page= p50, no chunk cache | page= p50, chunk cache on | cursor= p50 | OFFSET baseline p50 |',
      '|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.page.toLocaleString('en')} | ${ms(r.first)} | ${ms(r.byPage)} (${ratio(r.byPage, p1.byPage)}) | ${ms(r.cached)} (${ratio(r.cached, p1.cached)}) | ${ms(r.byCursor)} (${ratio(r.byCursor, p1.byCursor)}) | ${ms(r.offset)} (${ratio(r.offset, p1.offset)}) |`,
      ),
      '',
      `History export: ${ROWS.toLocaleString('en')} rows as NDJSON`,
      '| | streamed from a cursor | whole-array baseline | streamed / baseline |',
      '|---|---|---|---|',
      `| rows/s | ${Math.round(exp.rows / exp.seconds).toLocaleString('en')} | ${Math.round(base.rows / base.seconds).toLocaleString('en')} | ${ratio(base.seconds, exp.seconds)} |`,
      `| rows per server CPU-second | ${Math.round(exp.rows / exportCpu).toLocaleString('en')} | | |`,
      `| time to first byte | ${ms(exp.ttfbMs)} | ${ms(base.ttfbMs)} | ${ratio(exp.ttfbMs, base.ttfbMs)} |`,
      `| server peak RSS | ${exportRss.toFixed(0)} MB (idle ${idleRss.toFixed(0)} MB) | ${baseRss.toFixed(0)} MB | ${ratio(exportRss, baseRss)} |`,
      '',
      `Seeding: ${seeded.rows_per_second.toLocaleString('en')} rows/s wall clock (${ROWS.toLocaleString('en')} rows in ${seeded.seconds.toFixed(1)} s), ${seeded.rows_per_cpu_second.toLocaleString('en')} rows per CPU-second of the seed process`,
      '',
    ];
    console.log(lines.join('\n'));
  });
});
