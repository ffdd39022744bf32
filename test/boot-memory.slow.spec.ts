import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from './support/free-port.js';

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    }).once('error', () => resolve(false));
  });

/** Polls `check` every 200 ms until it holds or `ms` pass; its last value. */
async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('memory after boot', () => {
  it('gives back the young generation the boot grew, with no request served', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'boot-memory-'));
    // The real entry point, compiled on the fly as the other child-process specs do.
    const child = spawn(process.execPath, ['--import', './scripts/swc-register.mjs', 'src/main.ts'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', SHUTDOWN_DELAY_MS: '0' },
      stdio: 'ignore',
    });
    try {
      expect(await within(60_000, () => accepts(port)), 'the service listens').toBe(true);
      const listening = rssMiB(child.pid!);
      // The settling step runs 2 s after listening, then every 6 s until it has worked (3 at most):
      // the young generation (about 30 MB resident) leaves within 15 s.
      let settled = listening;
      const shrank = await within(20_000, () => {
        settled = rssMiB(child.pid!);
        return listening - settled >= 20;
      });
      expect(shrank, `RSS ${listening.toFixed(0)} MiB when listening, ${settled.toFixed(0)} MiB 20 s later`).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
