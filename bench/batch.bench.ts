// `npm run bench -- batch`: POST /batch-process against the real server in a child process.
// - 10,000-item JSON batch: time to first result, total time, items/s as a ratio to the engine's
//   own speed measured in this process (the API's overhead: validation, streaming, history);
//   the engine is measured just before and just after each server run and the row's baseline is
//   the mean of the two, since this machine's speed drifts by a third within minutes;
// - a 10,000-line and a 100,000-line NDJSON upload, each on a fresh server warmed as the engine
//   alone is: items/s against the engine, and the server's peak RSS (VmHWM) from its start;
// - the first 1,000 items a fresh server serves (its drafting thread and code still cold).
import 'reflect-metadata';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { withDefaults } from '../src/captions/dto/caption-generation-request.dto.js';
import { TemplateCaptionEngine } from '../src/captions/engine/template-caption.engine.js';

const STYLES = ['casual', 'professional', 'playful', 'promotional', 'minimalist'];
const captionRequest = (i: number) => ({
  content_description: `Product ${i}: handmade ceramic mug, ${i % 7 === 0 ? 'matte black' : 'glazed ocean blue'}, 350 ml, dishwasher safe`,
  style: STYLES[i % STYLES.length],
  hashtag_count: 5,
  variation_count: 1,
  request_id: `sku-${i}`,
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Server {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
  peakRssMb(): number;
}

async function startServer(): Promise<Server> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-batch-'));
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      ALLOW_ANONYMOUS: 'true',
      BATCH_MAX_REQUESTS: '10000',
      BATCH_MAX_NDJSON_LINES: '100000',
      BODY_LIMIT_BYTES: String(16 * 1024 * 1024),
      RATE_LIMIT_MAX: '0',
      SHUTDOWN_DELAY_MS: '0',
      // An NDJSON upload is read at processing speed: 100,000 lines take longer than the default 120 s.
      REQUEST_TIMEOUT_MS: '1800000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}/api/v14/lazy`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/health/live`)).ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    base,
    peakRssMb: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Run {
  firstMs: number;
  totalMs: number;
  lines: number;
}

/** Posts a body (written with backpressure while the response is read) and counts result lines. */
function postBatch(url: string, contentType: string, body: () => Generator<string>): Promise<Run> {
  // The body is made before the clock starts: what is timed is the server, not this client.
  const parts = [...body()][Symbol.iterator]();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let firstMs = -1;
    let lines = 0;
    // A connection of its own: a kept-alive one from the run before may have been closed by the
    // server's keep-alive timeout (5 s) while this process measured the engine, and writing to it fails.
    const req = httpRequest(url, { method: 'POST', agent: false, headers: { 'content-type': contentType, accept: 'application/x-ndjson' } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.on('data', (c: Buffer) => {
        if (firstMs < 0) firstMs = performance.now() - started;
        for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines += 1;
      });
      res.on('end', () => resolve({ firstMs, totalMs: performance.now() - started, lines }));
    });
    req.on('error', reject);
    const write = () => {
      for (let next = parts.next(); !next.done; next = parts.next()) {
        if (!req.write(next.value)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

/** `n` requests from the `from`-th on: a warm-up takes others than the measured batch's, which would be served from the cache. */
function* jsonBody(n: number, from = 0): Generator<string> {
  yield JSON.stringify({ max_concurrent: 10, requests: Array.from({ length: n }, (_, i) => captionRequest(from + i)) });
}

function* ndjsonBody(n: number, from = 0): Generator<string> {
  for (let i = from; i < from + n; i += 500) {
    let piece = '';
    for (let j = i; j < Math.min(from + n, i + 500); j++) piece += `${JSON.stringify(captionRequest(j))}\n`;
    yield piece;
  }
}

/** The engine alone: what one batch item needs at least (`variation_count` drafts), per second. */
function engineItemsPerSecond(n: number): number {
  const engine = new TemplateCaptionEngine();
  const requests = Array.from({ length: n }, (_, i) => withDefaults(captionRequest(i) as never));
  const started = performance.now();
  for (const r of requests) for (let v = 0; v < r.variation_count; v++) engine.generate(r, v);
  return n / ((performance.now() - started) / 1000);
}

/** Runs `measure` between two measures of the engine alone; the baseline is their mean. */
async function besideEngine<T>(measure: () => Promise<T>): Promise<{ value: T; engineRate: number; engineRates: [number, number] }> {
  const before = engineItemsPerSecond(5000);
  const value = await measure();
  const after = engineItemsPerSecond(5000);
  return { value, engineRate: (before + after) / 2, engineRates: [before, after] };
}

it('batch', async () => {
  if (spawnSync('npx', ['nest', 'build'], { stdio: 'inherit' }).status !== 0) throw new Error('build failed');
  engineItemsPerSecond(1000); // warm-up

  const rows: Array<[string, string, string, string]> = [];
  const fmt = (n: number, d = 1) => n.toFixed(d);

  const log = (msg: string) => process.stderr.write(`[bench batch] ${msg}\n`);
  let server = await startServer();
  let json: Run;
  let cold: Run;
  let engineRate: number;
  try {
    // Warmed as the engine alone is (1,000 items), with requests the measured batch does not hold.
    cold = await postBatch(`${server.base}/batch-process`, 'application/json', () => jsonBody(1000, 10_000));
    const beside = await besideEngine(() => postBatch(`${server.base}/batch-process?chunk_size=100`, 'application/json', () => jsonBody(10_000)));
    json = beside.value;
    engineRate = beside.engineRate;
    log(`engine alone: ${beside.engineRates.map((r) => fmt(r, 0)).join(' / ')} items/s`);
  } finally {
    await server.stop();
  }
  log(`10k JSON: ${fmt(json.totalMs / 1000, 1)} s`);
  if (json.lines !== 10_001) throw new Error(`expected 10,001 lines, got ${json.lines}`);
  const apiRate = 10_000 / (json.totalMs / 1000);
  rows.push(['10k JSON batch: items/s', fmt(apiRate, 0), `engine alone ${fmt(engineRate, 0)}/s`, fmt(apiRate / engineRate, 2)]);
  rows.push(['10k JSON batch: first result (ms)', fmt(json.firstMs), 'goal 100 ms', fmt(json.firstMs / 100, 2)]);
  rows.push(['10k JSON batch: total (s)', fmt(json.totalMs / 1000, 2), `engine alone ${fmt(10_000 / engineRate, 2)} s`, fmt(json.totalMs / 1000 / (10_000 / engineRate), 2)]);
  const coldRate = 1000 / (cold.totalMs / 1000);
  rows.push(['fresh server, first 1k items: items/s', fmt(coldRate, 0), `engine alone ${fmt(engineRate, 0)}/s`, fmt(coldRate / engineRate, 2)]);
  rows.push(['fresh server, first 1k items: first result (ms)', fmt(cold.firstMs), 'goal 100 ms', fmt(cold.firstMs / 100, 2)]);

  const rss: number[] = [];
  for (const n of [10_000, 100_000]) {
    server = await startServer();
    let run: Run;
    let rate: number;
    try {
      // Warmed as the JSON run's server is, with lines the measured upload does not hold.
      await postBatch(`${server.base}/batch-process?chunk_size=500`, 'application/x-ndjson', () => ndjsonBody(1000, 200_000));
      const beside = await besideEngine(() => postBatch(`${server.base}/batch-process?chunk_size=500`, 'application/x-ndjson', () => ndjsonBody(n)));
      run = beside.value;
      rate = beside.engineRate;
      log(`engine alone: ${beside.engineRates.map((r) => fmt(r, 0)).join(' / ')} items/s`);
      rss.push(server.peakRssMb());
    } finally {
      await server.stop();
    }
    log(`${n / 1000}k NDJSON: ${fmt(run.totalMs / 1000, 1)} s, peak RSS ${fmt(rss.at(-1)!)} MB`);
    if (run.lines !== n + 1) throw new Error(`expected ${n + 1} lines, got ${run.lines}`);
    rows.push([`${n / 1000}k NDJSON upload: items/s`, fmt(n / (run.totalMs / 1000), 0), `engine alone ${fmt(rate, 0)}/s`, fmt(n / (run.totalMs / 1000) / rate, 2)]);
    rows.push([`${n / 1000}k NDJSON upload: first result (ms)`, fmt(run.firstMs), 'goal 100 ms', fmt(run.firstMs / 100, 2)]);
  }
  rows.push(['server peak RSS, 10k NDJSON (MB)', fmt(rss[0]!), '—', '—']);
  rows.push(['server peak RSS, 100k NDJSON (MB)', fmt(rss[1]!), `10k: ${fmt(rss[0]!)} MB (goal ≤ 1.3×)`, fmt(rss[1]! / rss[0]!, 2)]);

  const widths = [0, 1, 2, 3].map((c) => Math.max(...[['measure', 'value', 'baseline', 'ratio'], ...rows].map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  console.log(['', line(['measure', 'value', 'baseline', 'ratio']), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''].join('\n'));
});
