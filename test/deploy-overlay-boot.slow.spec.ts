import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL, uniqueSchema } from './support/cluster-env.js';
import { freePort } from './support/free-port.js';
import { KUBECTL, renderKustomization, type K8sObject } from './support/k8s-manifests.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from './support/redis-server.js';

// The real server (src/main.ts) started with the environment a rendered overlay gives its pod:
// the ConfigMap, the container's env (Secret references filled with this machine's databases and
// fresh keys), NODE_OPTIONS, and every volume mount remapped to a temporary directory. Its probes
// must answer on their paths within the startup probe's budget, and SIGTERM must end it with exit 0
// within the manifests' own shutdown numbers.

interface Probe { httpGet: { path: string }; periodSeconds?: number; failureThreshold?: number }
interface Container {
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  startupProbe: Probe;
  livenessProbe: Probe;
  readinessProbe: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
}
interface PodSpec { terminationGracePeriodSeconds: number; containers: Container[] }

if (!KUBECTL) console.warn('[deploy-overlay-boot] kubectl not found: the overlays are not rendered, so not booted');

async function status(port: number, path: string): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

/** Asks `path` until it answers `want` or `deadline` (epoch ms) passes; the last answer. */
async function statusBy(port: number, path: string, want: number, deadline: number): Promise<number | undefined> {
  let answer = await status(port, path);
  while (answer !== want && Date.now() < deadline) {
    await sleep(50);
    answer = await status(port, path);
  }
  return answer;
}

describe.skipIf(!KUBECTL)('an overlay\'s pod environment, on the real server', () => {
  let child: ChildProcess | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** Secret values for this run: fresh keys, and for scale-out a schema and a Redis prefix of its own. */
  async function secrets(): Promise<Record<string, string>> {
    const schema = uniqueSchema('deploy_overlay');
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`create schema "${schema}"`);
    cleanups.push(async () => {
      await admin.query(`drop schema if exists "${schema}" cascade`);
      await admin.end();
    });
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return {
      API_KEYS: randomBytes(24).toString('hex'),
      METRICS_TOKEN: randomBytes(24).toString('hex'),
      DATABASE_URL: url.toString(),
      REDIS_URL: TEST_REDIS_URL,
    };
  }

  it.each(['embedded', 'scale-out'])('%s: boots within the startup budget, answers its probes, and shuts down within its grace', { timeout: 150_000 }, async (overlay) => {
    const objects = renderKustomization(`deploy/k8s/overlays/${overlay}`);
    const pod = (objects.find((o) => o.kind === 'Deployment') as K8sObject & { spec: { template: { spec: PodSpec } } }).spec.template.spec;
    const c = pod.containers[0]!;
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === c.envFrom?.[0]?.configMapRef?.name) as K8sObject & { data: Record<string, string> };
    const values = await secrets();
    const env: Record<string, string> = { ...configMap.data };
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      const value = ref ? values[ref.key] : e.value;
      if (value !== undefined) env[e.name] = value;
    }
    if (env.REDIS_URL) {
      env.REDIS_KEY_PREFIX = uniqueRedisPrefix('deploy-overlay');
      cleanups.push(() => deleteRedisKeys(env.REDIS_KEY_PREFIX!));
    }
    // Each mount becomes a directory of the spec's own; paths in the environment follow it.
    const root = mkdtempSync(join(tmpdir(), `deploy-${overlay}-`));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const mounts = (c.volumeMounts ?? []).map((m) => ({ from: m.mountPath, to: join(root, m.name) }));
    for (const m of mounts) mkdirSync(m.to, { mode: 0o777 });
    const remap = (path: string) => {
      const m = mounts.find((x) => !relative(x.from, path).startsWith('..'));
      return m ? join(m.to, relative(m.from, path)) : path;
    };
    for (const [k, v] of Object.entries(env)) if (v.startsWith('/')) env[k] = remap(v);
    expect(env.DATA_DIR?.startsWith(root), 'DATA_DIR is on a volume').toBe(true);
    const port = await freePort();

    child = spawn(process.execPath, ['--import', './scripts/swc-register.mjs', 'src/main.ts'], {
      env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: '127.0.0.1', TMPDIR: remap('/tmp') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    const exited = new Promise<number | null>((res) => child!.once('exit', (code) => res(code)));

    // The startup probe's whole budget: past it the kubelet would restart the container.
    const startupBudgetMs = (c.startupProbe.periodSeconds ?? 10) * (c.startupProbe.failureThreshold ?? 3) * 1000;
    const started = Date.now();
    while ((await status(port, c.startupProbe.httpGet.path)) !== 200) {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before answering: ${output}`);
      if (Date.now() - started > startupBudgetMs) throw new Error(`startup probe not 200 within ${startupBudgetMs} ms: ${output}`);
      await sleep(100);
    }
    expect(await status(port, c.livenessProbe.httpGet.path)).toBe(200);
    expect(await statusBy(port, c.readinessProbe.httpGet.path, 200, Date.now() + 10_000), output).toBe(200);

    // The kubelet sends SIGTERM after preStop; from then on the process has the rest of the grace period.
    const preStopMs = (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
    const budgetMs = pod.terminationGracePeriodSeconds * 1000 - preStopMs;
    const stopAt = Date.now();
    child.kill('SIGTERM');
    // Readiness turns 503 as soon as the signal is handled, and stays so through SHUTDOWN_DELAY_MS,
    // while liveness keeps answering 200 (a kubelet must not restart a pod that is draining).
    expect(await statusBy(port, c.readinessProbe.httpGet.path, 503, stopAt + Number(env.SHUTDOWN_DELAY_MS) - 1_000), output).toBe(503);
    expect(await status(port, c.livenessProbe.httpGet.path)).toBe(200);
    const code = await Promise.race([exited, sleep(budgetMs).then(() => 'killed' as const)]);
    const stopMs = Date.now() - stopAt;
    expect(code, output).toBe(0);
    // It served through SHUTDOWN_DELAY_MS before closing, and ended well inside its budget.
    expect(stopMs).toBeGreaterThanOrEqual(Number(env.SHUTDOWN_DELAY_MS));
    expect(stopMs).toBeLessThan(budgetMs);
  });
});
