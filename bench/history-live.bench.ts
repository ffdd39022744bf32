// `npm run bench -- history-live`: the history cache under live writes, on SQLite and (when it
// answers) PostgreSQL. Knobs: BENCH_LIVE_ROWS (seeded rows, default 1,000,000), BENCH_LIVE_SECONDS
// (per measured phase, default 10), BENCH_DATABASE_URL (default TEST_DATABASE_URL or the local
// server; `none` skips PostgreSQL), BENCH_LIVE_BATCH=1 (then also runs the batch bench, whose
// items/s against the engine alone is the batch goal), CAPTION_WORKERS (the server's drafting
// threads; unset: its default). The server runs as a child process (bench/support/
// history-live-server.ts, from the sources), the writer as another (bench/support/caption-writer.mjs),
// the readers here: as clients reach a real deployment, so a reader's latency is the server's.
//
// Per engine, readers run round-robin while a writer generates captions at 0 (quiet), 10 and
// 100 requests a second: one user's pages, a closed past day, random deep pages by number, and a
// cursor walk; hit rate (pages whose rows all came from the loader's tiers) and p50, each beside
// the quiet run. Then: the freshness check's cost per request, captions/s with history recording
// against recording off, a restart (share of previously read pages served from disk), and on
// PostgreSQL two replicas: ms from a write on A to its visibility on B.
import 'reflect-metadata';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, it } from 'vitest';
import { openHistoryDatabase } from '../src/history/history-database.js';
import { KyselyHistoryRepository } from '../src/history/kysely-history.repository.js';
import { seedRows } from '../src/history/seed-rows.js';
import { freePort } from '../test/support/free-port.js';

const ROWS = Number(process.env.BENCH_LIVE_ROWS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_LIVE_SECONDS ?? 10);
const PG_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const USERS = 1000;
const DAYS = 90;
const PAGE = '/api/v14/lazy/caption-history';
const DAY_MS = 86_400_000;
const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]! : NaN);
const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

interface Engine {
  name: 'sqlite' | 'postgres';
  env: Record<string, string>;
  dataDir: () => string;
}

async function seed(url: string, schema?: string): Promise<void> {
  const repo = new KyselyHistoryRepository(openHistoryDatabase(url, { schema, sqliteCacheKib: 256 * 1024 }));
  await repo.migrate();
  const plan = { rows: ROWS, users: USERS, days: DAYS, endMs: Date.now() };
  const t = performance.now();
  await repo.bulkLoad(async () => {
    for (let done = 0; done < ROWS; done += 20_000) await repo.insertMany(seedRows(plan, done, 20_000));
  });
  await repo.close();
  console.log(`  seeded ${ROWS} rows in ${f((performance.now() - t) / 1000, 1)} s`);
}

async function pgEngine(): Promise<Engine | undefined> {
  if (PG_URL === 'none') return undefined;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch {
    console.log(`PostgreSQL does not answer at ${PG_URL.replace(/\/\/[^@]*@/, '//***@')}: skipped`);
    return undefined;
  }
  const schema = `bench_live_${process.pid}`;
  await admin.query(`create schema "${schema}"`);
  cleanups.push(async () => {
    await admin.query(`drop schema "${schema}" cascade`);
    await admin.end();
  });
  await seed(PG_URL, schema);
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { name: 'postgres', env: { DATABASE_URL: url.toString() }, dataDir: () => fresh() };
}

function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), 'history-live-'));
  dirs.push(d);
  return d;
}

interface App {
  base: string;
  /** The server's process id: its main thread's CPU time is read from /proc. */
  pid: number;
  /** POST (or GET) one of the server's bench routes (bench/support/history-live-server.ts). */
  bench<T = unknown>(path: string, method?: 'GET' | 'POST'): Promise<T>;
  close(): Promise<void>;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/**
 * CPU ms (user + system) the server has used so far: its main thread (the event loop: HTTP, loader,
 * history) and the whole process (drafting threads included), from /proc (Linux; NaN elsewhere).
 * CPU time rather than wall time: it says what a caption costs the event loop even on a busy machine.
 */
function serverCpuMs(pid: number): { main: number; all: number } {
  const read = (path: string) => {
    if (!existsSync(path)) return NaN;
    const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  };
  return { main: read(`/proc/${pid}/task/${pid}/stat`), all: read(`/proc/${pid}/stat`) };
}

/** Waits for `line` on the child's stdout; rejects when it exits first. */
function waitForLine(child: ChildProcess, prefix: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "${prefix}" within ${timeoutMs} ms: ${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith(prefix));
      if (line) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(line);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before "${prefix}": ${out}`));
    });
  });
}

async function startApp(engine: Engine, dataDir: string, env: Record<string, string> = {}): Promise<App> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', './scripts/swc-register.mjs', 'bench/support/history-live-server.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      SHUTDOWN_DELAY_MS: '0',
      ...engine.env,
      LAZY_ENABLE_DISK_CACHE: 'true',
      RATE_LIMIT_MAX: '100000000',
      RATE_LIMIT_MAX_CONCURRENT: '100000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await waitForLine(child, 'LISTENING', 120_000);
  const base = `http://127.0.0.1:${port}/api/v14/lazy`;
  return {
    base,
    pid: child.pid!,
    async bench<T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
      const res = await fetch(`${base}/bench/${path}`, { method });
      if (!res.ok) throw new Error(`${method} bench/${path}: ${res.status}`);
      return (res.status === 204 ? undefined : await res.json()) as T;
    },
    // SIGTERM: the graceful shutdown writes the disk tier out, which a restart reads back.
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface PageBody {
  data: Array<{ request_id: string }>;
  pagination: { next_cursor: string | null; has_next: boolean };
  metadata: { cache_hit: boolean };
}

async function getPage(base: string, query: string): Promise<{ ms: number; body: PageBody }> {
  const t = performance.now();
  const res = await fetch(`${base}${PAGE.slice('/api/v14/lazy'.length)}?${query}`);
  const body = (await res.json()) as PageBody;
  if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - t, body };
}

let writes = 0;
async function writeCaption(base: string, userId: string): Promise<string> {
  const res = await fetch(`${base}/captions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content_description: `Bench write ${writes} of a sunny terrace cafe`, user_id: userId, request_id: `live-${process.pid}-${writes++}`, variation_count: 3 }),
  });
  if (res.status !== 200) throw new Error(`POST /captions: ${res.status}`);
  return ((await res.json()) as { request_id: string }).request_id;
}

/** A writer process at `rate` requests/s to random users until stopped; stopping resolves to the captions answered 200, and the others. */
async function startWriter(base: string, rate: number): Promise<() => Promise<{ ok: number; failed: number }>> {
  if (rate === 0) return async () => ({ ok: 0, failed: 0 });
  const child = spawn(process.execPath, ['bench/support/caption-writer.mjs', base, String(rate), String(USERS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await waitForLine(child, 'STARTED', 30_000);
  return async () => {
    const wrote = waitForLine(child, 'WROTE', 60_000);
    child.kill('SIGTERM');
    const [, ok, failed] = (await wrote).split(' ').map(Number);
    return { ok: ok!, failed: failed! };
  };
}

type Kind = 'own user' | 'closed range' | 'deep pages' | 'cursor walk';
type Samples = Record<Kind, { ms: number[]; hits: number }>;

/** The four readers, round-robin, for `seconds`. */
async function readFor(base: string, seconds: number): Promise<Samples> {
  const out: Samples = { 'own user': { ms: [], hits: 0 }, 'closed range': { ms: [], hits: 0 }, 'deep pages': { ms: [], hits: 0 }, 'cursor walk': { ms: [], hits: 0 } };
  const day = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - 30 * DAY_MS);
  const range = `date_from=${day.toISOString()}&date_to=${new Date(day.getTime() + DAY_MS - 1).toISOString()}`;
  let i = 0;
  let cursor: string | null = null;
  let walked = 0;
  const end = performance.now() + seconds * 1000;
  const note = (k: Kind, r: { ms: number; body: PageBody }) => {
    out[k].ms.push(r.ms);
    if (r.body.metadata.cache_hit) out[k].hits++;
  };
  while (performance.now() < end) {
    i++;
    note('own user', await getPage(base, `user_id=user_7&page=${1 + (i % 5)}&page_size=50`));
    note('closed range', await getPage(base, `${range}&page=${1 + (i % 10)}&page_size=50`));
    note('deep pages', await getPage(base, `page=${1 + Math.floor(Math.random() * 2000)}&page_size=50`));
    const r = await getPage(base, cursor ? `page_size=50&cursor=${cursor}` : 'page_size=50');
    note('cursor walk', r);
    walked++;
    cursor = r.body.pagination.has_next && walked < 200 ? r.body.pagination.next_cursor : null;
    if (!cursor) walked = 0;
  }
  return out;
}

async function liveTable(engine: Engine): Promise<void> {
  const dataDir = engine.dataDir();
  const a = await startApp(engine, dataDir);
  try {
    await readFor(a.base, Math.min(5, SECONDS)); // warm-up
    const runs: Array<[number, Samples]> = [];
    const written: string[] = [];
    const busy: string[] = [];
    for (const rate of [0, 10, 100]) {
      const stop = await startWriter(a.base, rate);
      const started = performance.now();
      const cpu = serverCpuMs(a.pid);
      runs.push([rate, await readFor(a.base, SECONDS)]);
      const { ok, failed } = await stop();
      const used = serverCpuMs(a.pid);
      const s = (performance.now() - started) / 1000;
      if (rate > 0) written.push(`${rate}/s asked: ${f(ok / s, 1)}/s answered 200${failed > 0 ? `, ${failed} failed` : ''}`);
      busy.push(`${rate}/s ${f((used.main - cpu.main) / s / 10, 0)}% / ${f((used.all - cpu.all) / s / 10, 0)}%`);
    }
    const quiet = runs[0]![1];
    console.log(`\n${engine.name}: ${ROWS} rows, ${SECONDS} s per phase, page_size 50 (server: a child process; writer: ${written.join('; ')})`);
    console.log('| read | writer/s | pages | hit rate | p50 ms | p50 ÷ quiet | goal |');
    console.log('|---|---|---|---|---|---|---|');
    const goals: Record<Kind, string> = { 'own user': 'hits ≥ 90%', 'closed range': 'hits ≥ 95%', 'deep pages': 'p50 ≤ 1.5× quiet', 'cursor walk': 'hits ≥ 80%' };
    for (const kind of Object.keys(quiet) as Kind[]) {
      for (const [rate, s] of runs) {
        const x = s[kind];
        console.log(`| ${kind} | ${rate} | ${x.ms.length} | ${f((100 * x.hits) / x.ms.length, 1)}% | ${f(pct(x.ms, 0.5))} | ${f(pct(x.ms, 0.5) / pct(quiet[kind].ms, 0.5))}× | ${goals[kind]} |`);
      }
    }
    console.log(`server CPU by writer rate, % of one core, event loop / whole process (drafting threads included): ${busy.join('; ')}`);
    // The freshness check alone: 8 clients reading cached pages of one user, then of 8 users (8
    // scopes, each re-read once its copy is older than HISTORY_FRESHNESS_MS); every bucket read
    // (timed in the server) counted against the page requests.
    const freshness: string[] = [];
    for (const users of [1, 8]) {
      await a.bench('freshness/reset', 'POST');
      let requests = 0;
      const until = performance.now() + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: 8 }, async (_, c) => {
          while (performance.now() < until) {
            await getPage(a.base, `user_id=user_${c % users}&page=${1 + (c % 5)}&page_size=50`);
            requests++;
          }
        }),
      );
      const { reads, ms } = await a.bench<{ reads: number; ms: number }>('freshness');
      freshness.push(`${users} user(s): ${reads} bucket reads for ${requests} page requests, ${f(ms / requests, 3)} ms per request`);
    }
    const { p50 } = await a.bench<{ p50: number }>('bucket-read?n=200');
    console.log(`freshness check (goal ≤ 0.2 ms per request on SQLite): ${freshness.join('; ')}; one read of the 'all' buckets p50 ${f(p50, 3)} ms`);
    await captionsWithAndWithout(a);
  } finally {
    await a.close();
  }
  await restart(engine, dataDir);
}

async function captionsWithAndWithout(a: App): Promise<void> {
  let perCaption = '';
  const rate = async () => {
    let n = 0;
    const cpu = serverCpuMs(a.pid);
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < end) {
          await writeCaption(a.base, `user_${n % USERS}`);
          n++;
        }
      }),
    );
    const used = serverCpuMs(a.pid);
    perCaption ||= `server CPU per caption (3 variations, recording): ${f((used.main - cpu.main) / n)} ms on the event loop, ${f((used.all - cpu.all) / n)} ms in all`;
    return n / SECONDS;
  };
  // A warm-up round first (drafting threads starting, code not yet optimised), then the two
  // settings alternated twice: whichever ran first would otherwise carry the warm-up.
  await rate();
  perCaption = '';
  const withRates: number[] = [];
  const withoutRates: number[] = [];
  for (let round = 0; round < 2; round++) {
    withRates.push(await rate());
    await a.bench('recording?on=0', 'POST');
    withoutRates.push(await rate());
    await a.bench('recording?on=1', 'POST');
  }
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  const withRecording = mean(withRates);
  const without = mean(withoutRates);
  console.log(`captions/s: ${f(withRecording, 0)} recording, ${f(without, 0)} not recording: ${f(withRecording / without)} (goal ≥ 0.8); ${perCaption}`);
}

async function restart(engine: Engine, dataDir: string): Promise<void> {
  const queries = [
    ...Array.from({ length: 5 }, (_, i) => `user_id=user_7&page=${i + 1}&page_size=50`),
    ...Array.from({ length: 20 }, (_, i) => `page=${1 + i * 97}&page_size=50`),
  ];
  const first = await startApp(engine, dataDir);
  for (const q of queries) await getPage(first.base, q);
  await first.close();
  const second = await startApp(engine, dataDir);
  try {
    let hits = 0;
    for (const q of queries) if ((await getPage(second.base, q)).body.metadata.cache_hit) hits++;
    const stats = (await (await fetch(`${second.base}/stats`)).json()) as { tiers: { disk: { hits: number }; source: { loads: number } } };
    const { disk, source } = stats.tiers;
    console.log(
      `restart: ${hits}/${queries.length} pages served from the tiers; chunks from disk ${disk.hits}, from the database ${source.loads}: ${f((100 * disk.hits) / (disk.hits + source.loads), 1)}% (goal ≥ 95%)`,
    );
  } finally {
    await second.close();
  }
}

/** Two replicas on one PostgreSQL: ms from a write acknowledged by A until B's first page shows it. */
async function replicas(engine: Engine): Promise<void> {
  const a = await startApp(engine, engine.dataDir());
  const b = await startApp(engine, engine.dataDir());
  try {
    const lag: number[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await writeCaption(a.base, `user_${i % USERS}`);
      const t = performance.now();
      while ((await getPage(b.base, 'page_size=1&include_total=false')).body.data[0]?.request_id !== id) {
        if (performance.now() - t > 5000) throw new Error('B never saw the write');
      }
      lag.push(performance.now() - t);
    }
    console.log(`replicas: write on A → visible on B: p50 ${f(pct(lag, 0.5), 0)} ms, p99 ${f(pct(lag, 0.99), 0)} ms (goal p99 ≤ 1000)`);
  } finally {
    await a.close();
    await b.close();
  }
}

it('history under live writes', async () => {
  const dir = fresh();
  console.log('sqlite:');
  await seed(`sqlite:${join(dir, 'history.sqlite')}`);
  await liveTable({ name: 'sqlite', env: {}, dataDir: () => dir });
  const postgres = await pgEngine();
  if (postgres) {
    await liveTable(postgres);
    await replicas(postgres);
  }
  if (process.env.BENCH_LIVE_BATCH === '1') spawnSync(process.execPath, ['scripts/bench.mjs', 'batch'], { stdio: 'inherit' });
  else console.log('\nbatch items/s against the engine alone: BENCH_LIVE_BATCH=1, or `npm run bench -- batch` (its history writes are group-committed too)');
});
