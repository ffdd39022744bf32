// `npm run bench -- http`: the cost of this service's HTTP stack, and what it holds at rest.
//
// 0. Idle memory: the built service (`node dist/main.js`, built first when stale, as `npm start`
//    does) started alone with no traffic; its RSS once it listens and again when the boot has
//    settled (goal ≤ 100 MB), and where the megabytes go, component by component
//    (bench/support/idle-footprint.mjs).
// 1. Requests/s of the liveness route on a bare Express app and on this service with its full
//    stack (request ids, metrics histogram, shutdown gate, helmet, API-key check, body parser,
//    rate limiter, media-type guard, pipes, JSON logger), in interleaved rounds; the ratio of
//    medians is the figure (goal ≥ 0.7). An authenticated, rate-limited route (/stats with a key)
//    is measured too, for what a real client pays, against liveness in the same rounds (goal ≥ 0.6).
// 2. p99 latency of GET /metrics after the service has served 10,000 requests over varied routes
//    (so the histogram has many series), against /metrics on the fresh service in the same run.
//
// The servers of 1 and 2 run in this process; autocannon runs as a child process, so the load
// generator never shares the servers' event loop.
import express from 'express';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestApp, type TestApp } from '../test/support/test-app.js';
import { freePort } from '../test/support/free-port.js';
import { listening } from '../test/support/raw-request.js';
// @ts-expect-error a plain script, typed by what this file uses of it
import { idleFootprint } from './support/idle-footprint.mjs';

const run = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = 32;
const LIVE = '/api/v14/lazy/health/live';
const KEY = 'bench-key';

interface Result {
  rps: number;
  p99: number;
  p50: number;
  non2xx: number;
}

async function cannon(url: string, opts: { seconds?: number; amount?: number; connections?: number; headers?: string[] } = {}): Promise<Result> {
  const args = ['node_modules/autocannon/autocannon.js', '-j', '-n', '-c', String(opts.connections ?? CONNECTIONS)];
  if (opts.amount) args.push('-a', String(opts.amount));
  else args.push('-d', String(opts.seconds ?? SECONDS));
  for (const h of opts.headers ?? []) args.push('-H', h);
  args.push(url);
  const { stdout } = await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
  const r = JSON.parse(stdout);
  return { rps: r.requests.average, p99: r.latency.p99, p50: r.latency.p50, non2xx: r.non2xx + r.errors };
}

/** Seconds after the service listens when its RSS counts as idle: its boot has settled by then. */
const SETTLED_S = Number(process.env.BENCH_IDLE_SECONDS ?? 12);

interface IdleMemory {
  listeningMb: number;
  settledMb: number;
  bootMs: number;
}

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/** Resolves once `port` accepts a TCP connection (no HTTP request: the service sees no traffic). */
async function acceptsConnections(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      }).once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`the service did not listen on ${port} within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The built service, alone and idle: RSS when it listens and `SETTLED_S` seconds later. */
async function idleMemory(): Promise<IdleMemory> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-idle-'));
  const started = Date.now();
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: { ...process.env, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', API_KEYS: KEY },
    stdio: 'ignore',
  });
  try {
    await acceptsConnections(port, 120_000);
    const bootMs = Date.now() - started;
    const listeningMb = rssMb(child.pid!);
    await new Promise((r) => setTimeout(r, SETTLED_S * 1000));
    return { listeningMb, settledMb: rssMb(child.pid!), bootMs };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

describe('http', () => {
  let bare: Server;
  let bareUrl: string;
  let svc: TestApp;
  let svcUrl: string;
  let idle: IdleMemory;
  let footprint: { rows: Array<{ component: string; mb: number; heap_mb: number }>; total_mb: number };

  beforeAll(async () => {
    // Idle memory first, while nothing else of this benchmark runs. The build is `npm start`'s own.
    execFileSync(process.execPath, ['scripts/start.mjs', '--build-only'], { stdio: 'inherit' });
    idle = await idleMemory();
    footprint = idleFootprint(await freePort());
    const app = express();
    app.disable('x-powered-by');
    app.get(LIVE, (_req, res) => {
      res.json({ status: 'ok' });
    });
    bare = app.listen(0, '127.0.0.1');
    await new Promise((r) => bare.once('listening', r));
    bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
    svc = await createTestApp({
      // The JSON logger is in the stack, at `warn`: at `info` it would print a line per request
      // (liveness aside) into the table.
      // Limits off but the code paths on: the bench's one client sends thousands of 401s on purpose.
      env: { API_KEYS: KEY, RATE_LIMIT_MAX: '100000000', RATE_LIMIT_MAX_CONCURRENT: '1000', RATE_LIMIT_AUTH_FAILURES: '1000000', LOG_LEVEL: 'warn' },
    });
    svcUrl = `http://127.0.0.1:${await listening(svc.app)}`;
  });

  afterAll(async () => {
    bare?.close();
    await svc?.close();
  });

  it('prints the table', async () => {
    // Warm up both (JIT, connection setup).
    await cannon(`${bareUrl}${LIVE}`, { seconds: 1 });
    await cannon(`${svcUrl}${LIVE}`, { seconds: 1 });
    await cannon(`${svcUrl}/api/v14/lazy/stats`, { seconds: 1, headers: [`x-api-key=${KEY}`] });

    const metricsFresh = await cannon(`${svcUrl}/metrics`, { amount: 500, connections: 1, headers: [`x-api-key=${KEY}`] });

    const samples = { bare: [] as Result[], live: [] as Result[], stats: [] as Result[] };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so drift (thermal, neighbours) does not favour one side.
      const order = round % 2 === 0 ? (['bare', 'live', 'stats'] as const) : (['stats', 'live', 'bare'] as const);
      for (const which of order) {
        if (which === 'bare') samples.bare.push(await cannon(`${bareUrl}${LIVE}`));
        if (which === 'live') samples.live.push(await cannon(`${svcUrl}${LIVE}`));
        if (which === 'stats') samples.stats.push(await cannon(`${svcUrl}/api/v14/lazy/stats`, { headers: [`x-api-key=${KEY}`] }));
      }
    }

    // 10,000 requests over varied routes and outcomes (2xx, 401, 404 with distinct URLs).
    const paths = [LIVE, '/api/v14/lazy/health/ready', '/api/v14/lazy/stats', '/api/v14/lazy/cache/status', '/api/v14/lazy/no-such-route'];
    let served = 0;
    for (const p of paths) {
      await cannon(`${svcUrl}${p}`, { amount: 1000, connections: 8, headers: [`x-api-key=${KEY}`] });
      served += 1000;
    }
    for (const p of paths) {
      await cannon(`${svcUrl}${p}?q=${Math.random()}`, { amount: 1000, connections: 8 });
      served += 1000;
    }
    const metricsAfter = await cannon(`${svcUrl}/metrics`, { amount: 500, connections: 1, headers: [`x-api-key=${KEY}`] });

    const bareRps = median(samples.bare.map((s) => s.rps));
    const liveRps = median(samples.live.map((s) => s.rps));
    const statsRps = median(samples.stats.map((s) => s.rps));
    const errors = [...samples.bare, ...samples.live, ...samples.stats].reduce((n, s) => n + s.non2xx, 0);
    const liveRatio = liveRps / bareRps;
    const statsRatio = statsRps / liveRps;
    const verdict = (met: boolean) => (met ? 'met' : 'not met');
    console.log(
      `\nidle memory: node dist/main.js (NODE_ENV=production, no traffic), booted in ${fmt(idle.bootMs)} ms\n` +
        table([
          ['figure', 'MB', 'goal'],
          ['RSS when it listens', fmt(idle.listeningMb), '—'],
          [`RSS ${SETTLED_S} s later (idle)`, fmt(idle.settledMb), `≤ 100: ${verdict(idle.settledMb <= 100)}`],
        ]) +
        `\n\nwhere the idle megabytes go (bench/support/idle-footprint.mjs: each step after a full GC; RSS ${fmt(footprint.total_mb)} MB at the end)\n` +
        table([
          ['component', 'RSS MB', 'JS heap MB'],
          ...footprint.rows.map((r) => [r.component, fmt(r.mb, 1), fmt(r.heap_mb, 1)]),
        ]) +
        `\n\nratios (same run): liveness ÷ bare Express ${fmt(liveRatio, 2)} (goal ≥ 0.7: ${verdict(liveRatio >= 0.7)}); ` +
        `/stats ÷ liveness ${fmt(statsRatio, 2)} (goal ≥ 0.6: ${verdict(statsRatio >= 0.6)})\n`,
    );
    console.log(
      `\nhttp: ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} connections, autocannon in a child process (medians)\n` +
        table([
          ['target', 'req/s', 'p50 ms', 'p99 ms', 'ratio to bare Express', 'ratio to liveness'],
          ['bare Express, GET /health/live', fmt(bareRps), fmt(median(samples.bare.map((s) => s.p50)), 1), fmt(median(samples.bare.map((s) => s.p99)), 1), '1.00', '—'],
          ['service, GET /health/live (full stack)', fmt(liveRps), fmt(median(samples.live.map((s) => s.p50)), 1), fmt(median(samples.live.map((s) => s.p99)), 1), fmt(liveRatio, 2), '1.00'],
          ['service, GET /stats (API key, rate limit)', fmt(statsRps), fmt(median(samples.stats.map((s) => s.p50)), 1), fmt(median(samples.stats.map((s) => s.p99)), 1), fmt(statsRps / bareRps, 2), fmt(statsRatio, 2)],
        ]) +
        `\nnon-2xx or errors during the rounds: ${errors}\n\n` +
        `GET /metrics, 500 requests one at a time\n` +
        table([
          ['when', 'p50 ms', 'p99 ms', 'p99 ratio to fresh'],
          ['fresh service', fmt(metricsFresh.p50, 1), fmt(metricsFresh.p99, 1), '1.00'],
          [`after ${fmt(served)} requests`, fmt(metricsAfter.p50, 1), fmt(metricsAfter.p99, 1), fmt(metricsAfter.p99 / Math.max(metricsFresh.p99, 0.001), 2)],
        ]) +
        '\n',
    );
  });
});
