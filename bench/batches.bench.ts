// `npm run bench -- batches`: durable batch jobs (POST /batches) against real server processes.
// Size knob: BENCH_JOB_ITEMS (default 10,000; the goal table is for 100,000), BENCH_JOB_CLUSTER=0
// skips the three-replica part (it needs PostgreSQL and Redis: TEST_DATABASE_URL, TEST_REDIS_URL).
// - embedded default (SQLite, in-process runner): items/s against the engine alone in this process,
//   server peak RSS (VmHWM) against a batch a tenth the size, time from upload end to first result;
// - three replicas on PostgreSQL + Redis (BullMQ): items/s against one replica, and the takeover
//   time after `kill -9` of a replica (until every item running at the kill has ended).
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { it } from 'vitest';
import { withDefaults } from '../src/captions/dto/caption-generation-request.dto.js';
import { TemplateCaptionEngine } from '../src/captions/engine/template-caption.engine.js';
import { BATCHES, jobRequests, ndjson } from '../test/support/batch-jobs.js';
import { Cluster } from '../test/support/cluster.js';
import { TEST_DATABASE_URL, uniqueSchema } from '../test/support/cluster-env.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from '../test/support/redis-server.js';

const N = Number(process.env.BENCH_JOB_ITEMS ?? 10_000);
const CLUSTER = process.env.BENCH_JOB_CLUSTER !== '0';
const ENV = { BATCH_JOB_MAX_ITEMS: String(Math.max(N, 100_000)), RATE_LIMIT_MAX: '0', REQUEST_TIMEOUT_MS: '1800000', SHUTDOWN_DELAY_MS: '0' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function engineItemsPerSecond(n: number): number {
  const engine = new TemplateCaptionEngine({});
  const requests = jobRequests(n).map(({ custom_id: _id, ...r }) => withDefaults(r as never));
  const started = performance.now();
  for (const r of requests) engine.generate(r, 0);
  return n / ((performance.now() - started) / 1000);
}

interface Run {
  itemsPerSecond: number;
  firstResultMs: number;
  id: string;
}

/** Uploads `n` items as NDJSON to `base`; waits for the first result, then for the end. */
async function runBatch(base: string, n: number, onProgress?: (id: string, ended: number) => Promise<void>): Promise<Run> {
  const res = await fetch(`${base}${BATCHES}`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson(jobRequests(n)) });
  const uploaded = performance.now();
  if (res.status !== 202) throw new Error(`POST /batches: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  while ((await (await fetch(`${base}${BATCHES}/${id}/results?partial=true`)).text()).trim() === '') await sleep(10);
  const firstResultMs = performance.now() - uploaded;
  for (;;) {
    const b = (await (await fetch(`${base}${BATCHES}/${id}`)).json()) as { status: string; request_counts: { succeeded: number; errored: number } };
    if (b.status === 'ended') break;
    await onProgress?.(id, b.request_counts.succeeded + b.request_counts.errored);
    await sleep(200);
  }
  return { itemsPerSecond: n / ((performance.now() - uploaded) / 1000), firstResultMs, id };
}

async function embedded(n: number): Promise<Run & { peakRssMb: number }> {
  const cluster = await Cluster.start({ replicas: 1, env: ENV, readyTimeoutMs: 120_000 });
  try {
    const run = await runBatch(cluster.replicas[0]!.url, n);
    return { ...run, peakRssMb: peakRssMb(cluster.replicas[0]!.child!.pid!) };
  } finally {
    await cluster.close();
  }
}

async function onCluster(replicas: number, n: number, killOne: boolean): Promise<Run & { takeoverMs?: number }> {
  const prefix = uniqueRedisPrefix('bench-jobs');
  const schema = uniqueSchema('bench_jobs');
  const cluster = await Cluster.start({ replicas, databaseUrl: TEST_DATABASE_URL, schema, redisUrl: TEST_REDIS_URL, env: { ...ENV, REDIS_KEY_PREFIX: prefix }, readyTimeoutMs: 180_000 });
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  let takeoverMs: number | undefined;
  let killed = false;
  try {
    const run = await runBatch(cluster.url, n, async (id, ended) => {
      if (!killOne || killed || ended < n / 4) return;
      killed = true;
      await cluster.kill(1);
      const at = performance.now();
      const open = await db.query(`select idx from "${schema}".batch_items where batch_id = $1 and state = 'processing'`, [id]);
      const idxs = open.rows.map((r: { idx: number }) => r.idx);
      // The killed replica's items stay `processing` until another replica takes its chunk over.
      for (;;) {
        const left = await db.query(`select count(*)::int as n from "${schema}".batch_items where batch_id = $1 and idx = any($2) and state = 'processing'`, [id, idxs]);
        if (left.rows[0].n === 0) break;
        await sleep(100);
      }
      takeoverMs = performance.now() - at;
    });
    return { ...run, takeoverMs };
  } finally {
    await db.end();
    await cluster.close();
    await deleteRedisKeys(prefix);
  }
}

it(`batch jobs: ${N} items`, async () => {
  const engine = engineItemsPerSecond(Math.min(N, 5000));
  const small = await embedded(Math.max(1, Math.floor(N / 10)));
  const big = await embedded(N);
  const rows: Array<[string, string, string]> = [
    ['engine alone', `${engine.toFixed(0)} items/s`, ''],
    [`embedded, ${N} items`, `${big.itemsPerSecond.toFixed(0)} items/s`, `${(big.itemsPerSecond / engine).toFixed(2)}× the engine (goal ≥ 0.7)`],
    ['upload end → first result', `${big.firstResultMs.toFixed(0)} ms`, 'goal ≤ 200 ms'],
    [`server peak RSS, ${N} vs ${Math.floor(N / 10)} items`, `${big.peakRssMb.toFixed(0)} MB vs ${small.peakRssMb.toFixed(0)} MB`, `${(big.peakRssMb / small.peakRssMb).toFixed(2)}× (goal ≤ 1.2)`],
  ];
  if (CLUSTER) {
    const one = await onCluster(1, N, false);
    const three = await onCluster(3, N, true);
    rows.push(
      [`1 replica, PostgreSQL + Redis`, `${one.itemsPerSecond.toFixed(0)} items/s`, ''],
      [`3 replicas, kill -9 of one at 25 %`, `${three.itemsPerSecond.toFixed(0)} items/s`, `${(three.itemsPerSecond / one.itemsPerSecond).toFixed(2)}× one replica`],
      ['takeover after kill -9', three.takeoverMs === undefined ? 'n/a' : `${(three.takeoverMs / 1000).toFixed(1)} s`, 'goal ≤ 15 s'],
    );
  }
  console.log(`\n| measure | value | against |\n|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
});
