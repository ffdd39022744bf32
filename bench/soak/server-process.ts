import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/free-port.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const API = '/api/v14/lazy';
/** The key every soak client presents: the server runs as in production, with API keys on. */
export const SOAK_API_KEY = 'soak-api-key-0123456789abcdef';
const GC_PROBE = fileURLToPath(new URL('./gc-probe.mjs', import.meta.url));

export interface ServerOptions {
  /** PostgreSQL for the history (its own schema is made from `schema`); embedded SQLite when absent. */
  databaseUrl?: string;
  schema?: string;
  redisUrl?: string;
  /** Extra environment on top of the soak's. */
  env?: Record<string, string>;
  /** An existing data directory (already seeded); a fresh temporary one otherwise. */
  dataDir?: string;
}

export interface Peek {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

export interface GcProbe {
  gcMs: number;
  before: NodeJS.MemoryUsage;
  after: NodeJS.MemoryUsage;
}

/**
 * The built service (`dist/main.js`) in a child process of its own, on a free port and its own
 * data directory, as production runs it (`NODE_ENV=production`, API keys on). Started with
 * `--expose-gc` and the soak's GC probe preloaded, so the runner can ask for a post-GC heap.
 */
export class ServerProcess {
  private child!: ChildProcess;
  private nextProbe = 1;
  private readonly peeks = new Map<number, (m: Peek) => void>();
  private readonly waiting = new Map<number, (m: GcProbe | { error: string }) => void>();
  private ownDataDir = false;
  port = 0;
  dataDir = '';
  stderr = '';
  /** The server's log lines (warn and above), counted by level and message. */
  readonly logCounts = new Map<string, number>();
  private partial = '';

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  static async start(options: ServerOptions = {}): Promise<ServerProcess> {
    const s = new ServerProcess();
    await s.boot(options);
    return s;
  }

  private async boot(options: ServerOptions): Promise<void> {
    this.port = await freePort();
    this.ownDataDir = !options.dataDir;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'captions-soak-'));
    const env: Record<string, string | undefined> = {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      API_KEYS: SOAK_API_KEY,
      SHUTDOWN_DELAY_MS: '0',
      ...options.env,
      HOST: '127.0.0.1',
      PORT: String(this.port),
      DATA_DIR: this.dataDir,
    };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    delete env.CACHE_REDIS_URL;
    delete env.METRICS_PORT;
    if (options.databaseUrl) {
      const u = new URL(options.databaseUrl);
      if (options.schema) u.searchParams.set('options', `-c search_path=${options.schema}`);
      env.DATABASE_URL = u.toString();
    }
    if (options.redisUrl) env.REDIS_URL = options.redisUrl;
    this.child = spawn(process.execPath, ['--expose-gc', '--import', GC_PROBE, 'dist/main.js'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr!.on('data', (c: Buffer) => {
      // Kept short: only the tail says why a server stopped.
      this.stderr = (this.stderr + c.toString('utf8')).slice(-20_000);
      const lines = (this.partial + c.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.countLine(line);
    });
    this.child.on('message', (m: { probe?: number; peek?: number } & (GcProbe | { error: string })) => {
      if (typeof m?.peek === 'number') {
        this.peeks.get(m.peek)?.(m as unknown as Peek);
        this.peeks.delete(m.peek);
        return;
      }
      if (typeof m?.probe !== 'number') return;
      this.waiting.get(m.probe)?.(m);
      this.waiting.delete(m.probe);
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`server exited (${this.child.exitCode}) before it was ready:\n${this.stderr}`);
      try {
        const r = await fetch(`${this.url}${API}/health/ready`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`server not ready within 60 s:\n${this.stderr}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }

  private countLine(line: string): void {
    if (!line.trim()) return;
    let key = line.slice(0, 120);
    try {
      const j = JSON.parse(line) as { level?: number | string; msg?: string; context?: string };
      key = `${String(j.level)} ${j.context ?? ''}: ${j.msg ?? ''}`.slice(0, 160);
    } catch {
      // not a JSON log line: counted by its start
    }
    this.logCounts.set(key, (this.logCounts.get(key) ?? 0) + 1);
  }

  /** Still running. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resident set size of the server process in bytes, from the kernel (NaN once it is gone). */
  rssBytes(): number {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1]) * 1024;
    } catch {
      return NaN;
    }
  }

  /** Open file descriptors of the server (sockets included), from /proc. */
  openFds(): number {
    try {
      return readdirSync(`/proc/${this.pid}/fd`).length;
    } catch {
      return NaN;
    }
  }

  /** Bytes of the SQLite history files (database and write-ahead log) in the data directory. */
  historyFileBytes(): number {
    let total = 0;
    for (const f of readdirSync(this.dataDir)) if (f.startsWith('history.sqlite')) total += statSync(join(this.dataDir, f)).size;
    return total;
  }

  /** The heap as the server's own `/metrics` reports it (prom-client's `nodejs_heap_size_used_bytes`). */
  async metricsHeapUsed(): Promise<number> {
    const r = await fetch(`${this.url}/metrics`, { headers: { 'x-api-key': SOAK_API_KEY }, signal: AbortSignal.timeout(30_000) });
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
    const text = await r.text();
    return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]);
  }

  /** The server's `process.memoryUsage()` as it is (no collection); rejects after `timeoutMs`. */
  peek(timeoutMs = 10_000): Promise<Peek> {
    const id = this.nextProbe++;
    return new Promise<Peek>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.peeks.delete(id);
        reject(new Error(`memory peek unanswered after ${timeoutMs} ms`));
      }, timeoutMs);
      this.peeks.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.child.send({ peek: id });
    });
  }

  /** Forces a full GC in the server and returns the heap before and after it. */
  gcProbe(timeoutMs = 30_000): Promise<GcProbe> {
    const id = this.nextProbe++;
    return new Promise<GcProbe>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`GC probe unanswered after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        if ('error' in m) reject(new Error(m.error));
        else resolve(m);
      });
      this.child.send({ probe: id });
    });
  }

  /** SIGTERM (graceful shutdown), then waits for the exit; removes the data directory it made. */
  async stop(): Promise<void> {
    if (this.alive) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.ownDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
