import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.js';

const ROOT = resolve(import.meta.dirname, '../..');
const LIVE_PATH = '/api/v14/lazy/health/live';

/**
 * Builds the service when `dist/` is missing or older than the sources or the UI files (what
 * `npm start` does), so a spec runs the production start path (`node dist/main.js`), never a
 * stale build.
 */
export function ensureBuilt(): void {
  const r = spawnSync(process.execPath, ['scripts/start.mjs', '--build-only'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`the build failed (exit ${r.status})`);
}

/** Runs `node <script> <args>` from the repository root with `env`; resolves with its stdout, rejects on a non-zero exit. */
export function runNode(script: string, args: string[], env: Record<string, string>): string {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * One server process started as in production (`node dist/main.js`), on a free port with a data
 * directory of its own (SQLite history unless `env` names a database).
 */
export class BuiltServer {
  private constructor(
    readonly url: string,
    readonly dataDir: string,
    private readonly child: ChildProcess,
    private readonly ownsDataDir: boolean,
  ) {}

  /** Starts the server and resolves once its liveness answers 200 (within `readyTimeoutMs`). */
  static async start(env: Record<string, string> = {}, opts: { dataDir?: string; readyTimeoutMs?: number } = {}): Promise<BuiltServer> {
    const port = await freePort();
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'captions-built-'));
    const childEnv: Record<string, string | undefined> = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', ...env, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir };
    // A variable left in the caller's environment must not point the server elsewhere.
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'CACHE_REDIS_URL']) if (!(name in env)) delete childEnv[name];
    const child = spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-4000)));
    const server = new BuiltServer(`http://127.0.0.1:${port}`, dataDir, child, opts.dataDir === undefined);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before it was ready: ${stderr}`);
      const ok = await fetch(`${server.url}${LIVE_PATH}`).then((r) => r.ok, () => false);
      if (ok) return server;
      if (Date.now() > deadline) {
        await server.close();
        throw new Error(`the server was not ready within ${opts.readyTimeoutMs ?? 60_000} ms: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM (SIGKILL after 20 s), then removes the data directory it made. */
  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      const force = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(force);
    }
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
