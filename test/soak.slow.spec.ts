// The soak and the slow-client run (bench/soak, `npm run soak`) in CI's time: the built server in
// a child process, the runner in another, the goals judged by the runner and asserted here one by
// one, so a miss names itself.
//
// The CI soak is two minutes with 40 streams and a 20-connection mixed load, not 200 + 100: on a
// 2-core machine the server, the runner and the load generator share the cores, and 300 requests
// at once keep each one queued for tens of seconds (seen at 200 + 100 here: stream p50 over a
// minute, history pages past the client's 60 s timeout), which measures the queue, not a leak. A
// leak is per request or per stream, so it shows at these counts too; `npm run soak` runs the full
// counts for ten minutes. Its RSS slopes are reported, not judged: in two minutes the process is
// still growing to its working size (seen here: heap total 228 → 348 MiB and RSS minus heap total
// +31 MiB/min in the second minute, with the post-GC heap flat at 92-96 MiB); what two minutes can
// judge is the post-GC heap (a JavaScript leak), streams left open and errors. The slow-client run keeps its 500 tricklers, with REQUEST_TIMEOUT_MS at
// 30 s instead of 120 s (the same timer in Node, a shorter wait) and 200,000 rows to export
// (70 MB: far past the socket buffers, which is all a 1 KB/s reader ever sees of it); its healthy
// load runs at 40 requests a second per route for 20 s per phase (800 samples: a steadier p99).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Goal {
  goal: string;
  met: boolean;
  figure: string;
  judged?: boolean;
}

function run(args: string[], timeoutMs: number): { status: number | null; out: string; result: { goals: Goal[] } & Record<string, unknown> } {
  const file = join(dir, `${args.includes('--slow-clients') ? 'slow' : 'soak'}.json`);
  const r = spawnSync(process.execPath, ['--import', './scripts/swc-register.mjs', 'bench/soak/soak.ts', ...args, '--out', file], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  const out = `${r.stdout}\n${r.stderr}`;
  let result;
  try {
    result = JSON.parse(readFileSync(file, 'utf8')) as { goals: Goal[] };
  } catch {
    throw new Error(`the soak wrote no result (exit ${r.status}, ${r.signal ?? 'no signal'}):\n${out.slice(-4000)}`);
  }
  return { status: r.status, out, result };
}

let dir: string;

describe('soak and slow clients (slow)', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'captions-soak-spec-'));
    // The soak runs the built server: build it when dist/ is missing or stale (CI has just built it).
    const b = spawnSync(process.execPath, ['scripts/start.mjs', '--build-only'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    if (b.status !== 0) throw new Error(`build failed:\n${b.stdout}\n${b.stderr}`);
  }, 200_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds 2 minutes of streams and mixed load with no errors, readiness held and a flat post-GC heap', { timeout: 240_000 }, () => {
    const { status, out, result } = run(['--minutes', '2', '--warmup-minutes', '1', '--streams', '40', '--connections', '20', '--variations', '20', '--rss-goal', 'off'], 230_000);
    for (const g of result.goals.filter((x) => x.judged !== false)) expect.soft(g.met, `${g.goal}: ${g.figure}\n${out.slice(-3000)}`).toBe(true);
    expect(status).toBe(0);
  });

  it('closes 500 trickling connections by its timeouts while healthy clients keep their latency', { timeout: 240_000 }, () => {
    const { status, out, result } = run(['--slow-clients', '--tricklers', '500', '--rows', '200000', '--phase-seconds', '20', '--rate', '40', '--request-timeout-ms', '30000'], 230_000);
    for (const g of result.goals) expect.soft(g.met, `${g.goal}: ${g.figure}\n${out.slice(-3000)}`).toBe(true);
    expect(status).toBe(0);
  });
});
