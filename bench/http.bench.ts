// `npm run bench -- http`: the cost of this service's HTTP stack.
//
// 1. Requests/s of the liveness route on a bare Express app and on this service with its full
//    stack (request ids, metrics histogram, shutdown gate, helmet, API-key check, body parser,
//    rate limiter, media-type guard, pipes, JSON logger), in interleaved rounds; the ratio of
//    medians is the figure (goal ≥ 0.6). An authenticated, rate-limited route (/stats with a key)
//    is measured too, for what a real client pays.
// 2. p99 latency of GET /metrics after the service has served 10,000 requests over varied routes
//    (so the histogram has many series), against /metrics on the fresh service in the same run.
//
// The servers run in this process; autocannon runs as a child process, so the load generator
// never shares the servers' event loop.
import express from 'express';
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestApp, type TestApp } from '../test/support/test-app.js';
import { listening } from '../test/support/raw-request.js';

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

  beforeAll(async () => {
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
    console.log(
      `\nhttp: ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} connections, autocannon in a child process (medians)\n` +
        table([
          ['target', 'req/s', 'p50 ms', 'p99 ms', 'ratio to bare Express'],
          ['bare Express, GET /health/live', fmt(bareRps), fmt(median(samples.bare.map((s) => s.p50)), 1), fmt(median(samples.bare.map((s) => s.p99)), 1), '1.00'],
          ['service, GET /health/live (full stack)', fmt(liveRps), fmt(median(samples.live.map((s) => s.p50)), 1), fmt(median(samples.live.map((s) => s.p99)), 1), fmt(liveRps / bareRps, 2)],
          ['service, GET /stats (API key, rate limit)', fmt(statsRps), fmt(median(samples.stats.map((s) => s.p50)), 1), fmt(median(samples.stats.map((s) => s.p99)), 1), fmt(statsRps / bareRps, 2)],
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
