import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { API, figure, timed, until, type Outcome } from '../support/chaos.js';
import { Cluster } from '../support/cluster.js';
import { freePort } from '../support/free-port.js';

const run = promisify(execFile);
/** Room for the disk tier to start ready (its probe wants 64 MB free), small enough to fill in a moment. */
const VOLUME = '80m';
const MB = 1024 * 1024;

interface DiskStats {
  entries: number;
  write_errors: number;
}

const diskStats = async (base: string) => ((await timed(`${base}${API}/stats`)).body as { tiers: { disk: DiskStats } }).tiers.disk;

/** Caption requests (each new, so each goes to the source and then to the disk tier) and a history page. */
async function traffic(base: string, tag: string, n: number): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await timed(`${base}${API}/captions`, { method: 'POST', body: { content_description: `a mountain lake at noon, ${tag} ${i}`, user_id: 'chaos-disk' } }));
    out.push(await timed(`${base}${API}/caption-history?page=1&page_size=20&user_id=chaos-disk&include_total=false`));
  }
  return out;
}

/**
 * The service as a child process with its disk tier in `volume`, waited for until live (not
 * ready: a tier that cannot open keeps readiness at 503, which is what the spec looks at).
 */
async function ownServer(volume: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'chaos-disk-data-'));
  const child = spawn(process.execPath, ['--import', './scripts/swc-register.mjs', 'src/main.ts'], {
    cwd: resolve(import.meta.dirname, '../..'),
    env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', RATE_LIMIT_MAX: '1000000', LAZY_ENABLE_DISK_CACHE: 'true', LAZY_DISK_CACHE_DIR: join(volume, 'cache') },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await until('the service live', async () => (await timed(`${url}${API}/health/live`, {}, 1_000)).status === 200, 60_000);
  return {
    url,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Fills the volume of `dir` with one file until the kernel refuses a write (ENOSPC). */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(MB, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    // The last partial block: fill what is left to the byte.
    for (let size = MB / 2; size >= 512; size /= 2) {
      try {
        for (;;) writeSync(fd, block, 0, size);
      } catch {
        // This size no longer fits: try a smaller one.
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

/**
 * The lazy loader's disk tier on a volume of its own (a tmpfs mounted for the spec): filled up
 * until the kernel refuses writes, then remounted read-only. Each case: the requests still answer
 * 200, the failed writes are counted in `/stats`, and readiness reports the tier (its documented
 * rule: 503 while the volume has less than 64 MB free or is not writable).
 */
describe('The disk tier on a full or read-only volume', () => {
  const root = mkdtempSync(join(tmpdir(), 'chaos-disk-'));
  const mounts: string[] = [];
  let cluster: Cluster | undefined;

  async function volume(name: string): Promise<string> {
    const dir = join(root, name);
    await run('mkdir', ['-p', dir]);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${VOLUME},mode=0700`, 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  }

  async function start(cacheDir: string): Promise<string> {
    cluster = await Cluster.start({ replicas: 1, env: { RATE_LIMIT_MAX: '1000000', LAZY_ENABLE_DISK_CACHE: 'true', LAZY_DISK_CACHE_DIR: join(cacheDir, 'cache') } });
    const base = cluster.replicas[0]!.url;
    expect((await traffic(base, 'warm', 5)).filter((o) => o.status !== 200)).toEqual([]);
    await until('chunks written to the disk tier', async () => (await diskStats(base)).entries > 0, 10_000);
    return base;
  }

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });
  afterAll(async () => {
    for (const dir of mounts) await run('umount', ['-l', dir]).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it('full: every request answers 200, failed writes are counted, readiness reports it, and writes resume once there is room', async () => {
    const dir = await volume('full');
    const base = await start(dir);
    const before = await diskStats(base);

    const filler = fill(dir);
    figure('disk full: free bytes after filling', statfsSync(dir).bavail * statfsSync(dir).bsize);
    const served = await traffic(base, 'full', 20);
    const after = await diskStats(base);
    const ready = await timed(`${base}${API}/health/ready`);
    const live = await timed(`${base}${API}/health/live`);
    figure('disk full: requests / failed', `${served.length} / ${served.filter((o) => o.status !== 200).length}`);
    figure('disk full: disk tier write errors counted', after.write_errors - before.write_errors);
    figure('disk full: readiness', `${ready.status} ${JSON.stringify(ready.body)}`);
    expect(served.filter((o) => o.status !== 200)).toEqual([]);
    expect(after.write_errors).toBeGreaterThan(before.write_errors);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ error: 'unhealthy', details: [{ field: 'disk_cache' }] });
    expect(live.status).toBe(200);

    rmSync(filler);
    const freedAt = Date.now();
    const recovered = await until('readiness 200 again', async () => (await timed(`${base}${API}/health/ready`)).status === 200, 15_000);
    figure('disk full: readiness 200 after room was made (ms)', recovered);
    const resumed = await diskStats(base);
    expect((await traffic(base, 'room', 5)).filter((o) => o.status !== 200)).toEqual([]);
    await until('new entries on disk', async () => (await diskStats(base)).entries > resumed.entries, 10_000);
    expect((await diskStats(base)).write_errors).toBe(resumed.write_errors);
    expect(Date.now() - freedAt).toBeLessThan(30_000);
  });

  it('read-only: the service starts and every request answers 200, failed writes are counted, and the tier opens once the volume is writable, without a restart', async () => {
    const dir = await volume('readonly');
    // The tier's volume cannot be remounted read-only while the tier holds its file open for
    // writing (the kernel answers busy; writes through open descriptors would go on anyway): the
    // service is stopped, the volume remounted read-only, and the service started on it.
    await start(dir);
    await cluster!.close();
    cluster = undefined;
    await run('mount', ['-o', 'remount,ro', dir]);
    const server = await ownServer(dir);
    try {
      const base = server.url;
      const before = await diskStats(base);
      const served = await traffic(base, 'ro', 20);
      const after = await diskStats(base);
      const ready = await timed(`${base}${API}/health/ready`);
      figure('disk read-only: requests / failed', `${served.length} / ${served.filter((o) => o.status !== 200).length}`);
      figure('disk read-only: disk tier write errors counted', after.write_errors - before.write_errors);
      figure('disk read-only: readiness', `${ready.status} ${JSON.stringify(ready.body)}`);
      expect(served.filter((o) => o.status !== 200)).toEqual([]);
      expect(after.write_errors).toBeGreaterThan(before.write_errors);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ error: 'unhealthy', details: [{ field: 'disk_cache', message: 'disk cache not open' }] });

      await run('mount', ['-o', 'remount,rw', dir]);
      const recovered = await until('readiness 200 again', async () => (await timed(`${base}${API}/health/ready`)).status === 200, 15_000);
      figure('disk read-only: readiness 200 after remount rw (ms)', recovered);
      const resumed = await diskStats(base);
      expect((await traffic(base, 'rw', 5)).filter((o) => o.status !== 200)).toEqual([]);
      await until('new entries on disk', async () => (await diskStats(base)).entries > resumed.entries, 10_000);
      expect((await diskStats(base)).write_errors).toBe(resumed.write_errors);
    } finally {
      await server.stop();
    }
  });
});
