import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';

/** The readiness probe the proxy and {@link Cluster.waitReady} ask (src/monitoring/health.controller.ts). */
export const READY_PATH = '/api/v14/lazy/health/ready';
/** How often the proxy asks each replica whether it is ready. */
const HEALTH_INTERVAL_MS = 200;
/** The proxy's own wait for one readiness answer. */
const HEALTH_TIMEOUT_MS = 1_000;
/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

export interface ClusterOptions {
  /** How many replicas (at least 1). */
  replicas: number;
  /** PostgreSQL every replica uses; without it each replica has its own SQLite under its DATA_DIR. */
  databaseUrl?: string;
  /**
   * A schema of the cluster's own in that database, created at start (search_path through the URL)
   * and dropped at close: parallel specs do not see each other's rows.
   */
  schema?: string;
  /** The shared Redis; none when absent. */
  redisUrl?: string;
  /** Extra environment for every replica (REDIS_KEY_PREFIX, RATE_LIMIT_MAX…). */
  env?: Record<string, string>;
  /** The proxy's port; a free one by default. */
  proxyPort?: number;
  /** Where replicas write their output: `inherit` (the CLI), or dropped (specs). */
  output?: 'inherit' | 'ignore';
  /** The server entry point, run with the SWC loader (default `src/main.ts`). */
  entry?: string;
  /** How long one replica may take to become ready (default 60 s: two cores, several replicas compiling). */
  readyTimeoutMs?: number;
}

export interface Replica {
  readonly index: number;
  readonly port: number;
  readonly dataDir: string;
  /** `http://127.0.0.1:<port>`: the replica itself, past the proxy. */
  readonly url: string;
  child: ChildProcess | null;
  /** The proxy sends it requests (its readiness answered 200 last time). */
  inRotation: boolean;
}

/** `url` with the PostgreSQL `search_path` set to `schema` for every connection. */
function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/**
 * N replicas of the service (each its own port and DATA_DIR, child processes run from the
 * TypeScript sources) on one database and one Redis, behind a round-robin HTTP proxy that skips
 * replicas whose readiness is not 200. Responses, streams included, pass through as they come.
 * Every proxied response names the replica that served it in `X-Cluster-Replica`.
 */
export class Cluster {
  readonly replicas: Replica[] = [];
  private proxy!: Server;
  private proxyPort = 0;
  private next = 0;
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly agent = new Agent({ keepAlive: true });
  private baseDir = '';
  private databaseUrl: string | undefined;
  private closed = false;

  private constructor(private readonly options: ClusterOptions) {}

  /** Starts every replica and the proxy; resolves once every replica is ready. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    if (!(options.replicas >= 1)) throw new RangeError('replicas must be at least 1');
    const cluster = new Cluster(options);
    try {
      await cluster.boot();
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** The proxy: where clients send requests. */
  get url(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }

  private async boot(): Promise<void> {
    this.baseDir = mkdtempSync(join(tmpdir(), 'captions-cluster-'));
    const { databaseUrl, schema } = this.options;
    if (databaseUrl && schema) {
      if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        await admin.query(`create schema if not exists "${schema}"`);
      } finally {
        await admin.end();
      }
      this.databaseUrl = withSearchPath(databaseUrl, schema);
    } else {
      this.databaseUrl = databaseUrl;
    }
    for (let index = 0; index < this.options.replicas; index++) {
      const port = await freePort();
      const dataDir = join(this.baseDir, `replica-${index}`);
      mkdirSync(dataDir, { mode: 0o700 });
      this.replicas.push({ index, port, dataDir, url: `http://127.0.0.1:${port}`, child: null, inRotation: false });
    }
    this.proxy = createServer((req, res) => this.forward(req, res));
    this.proxy.listen(this.options.proxyPort ?? 0, '127.0.0.1');
    await once(this.proxy, 'listening');
    this.proxyPort = (this.proxy.address() as { port: number }).port;
    for (const r of this.replicas) this.spawn(r);
    await Promise.all(this.replicas.map((r) => this.waitReady(r.index)));
    this.healthTimer = setInterval(() => void this.checkAll(), HEALTH_INTERVAL_MS);
    this.healthTimer.unref();
  }

  private spawn(r: Replica, extraEnv: Record<string, string> = {}): void {
    const env: Record<string, string | undefined> = {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      ...this.options.env,
      ...extraEnv,
      HOST: '127.0.0.1',
      PORT: String(r.port),
      DATA_DIR: r.dataDir,
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.options.redisUrl,
    };
    // A variable left from the caller's environment must not point a replica elsewhere.
    if (!this.databaseUrl) delete env.DATABASE_URL;
    if (!this.options.redisUrl) {
      delete env.REDIS_URL;
      delete env.CACHE_REDIS_URL;
    }
    const child = spawn(process.execPath, ['--import', './scripts/swc-register.mjs', this.options.entry ?? 'src/main.ts'], {
      cwd: resolve(import.meta.dirname, '../..'),
      env,
      stdio: ['ignore', this.options.output ?? 'ignore', this.options.output ?? 'ignore'],
    });
    r.child = child;
    r.inRotation = false;
    child.once('exit', () => {
      if (r.child === child) {
        r.child = null;
        r.inRotation = false;
      }
    });
  }

  /** Resolves once replica `index` answers 200 on readiness (and puts it in rotation). */
  async waitReady(index: number): Promise<void> {
    const r = this.replica(index);
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    while (!(await this.check(r))) {
      if (!r.child) throw new Error(`replica ${index} exited before it was ready`);
      if (Date.now() > deadline) throw new Error(`replica ${index} not ready within ${this.options.readyTimeoutMs ?? 60_000} ms`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  /** Sends `signal` (SIGTERM by default: a graceful shutdown) to replica `index` and waits until it exits. */
  async stop(index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const r = this.replica(index);
    const child = r.child;
    if (!child) return;
    r.inRotation = false;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  /** Kills replica `index` at once (SIGKILL: no shutdown, as when a node dies) and waits until it is gone. */
  kill(index: number): Promise<void> {
    return this.stop(index, 'SIGKILL');
  }

  /** Starts replica `index` again (same port and DATA_DIR, `extraEnv` on top) and waits until it is ready. */
  async restart(index: number, extraEnv: Record<string, string> = {}): Promise<void> {
    const r = this.replica(index);
    if (r.child) await this.stop(index);
    this.spawn(r, extraEnv);
    await this.waitReady(index);
  }

  /**
   * Starts one more replica (its own port and DATA_DIR, `extraEnv` on top) and waits until it is
   * ready: with {@link stop} of an old one after it, a rolling update that keeps every replica's
   * capacity (Kubernetes' `maxUnavailable: 0`). @returns its index.
   */
  async add(extraEnv: Record<string, string> = {}): Promise<number> {
    const index = this.replicas.length;
    const port = await freePort();
    const dataDir = join(this.baseDir, `replica-${index}`);
    mkdirSync(dataDir, { mode: 0o700 });
    const r: Replica = { index, port, dataDir, url: `http://127.0.0.1:${port}`, child: null, inRotation: false };
    this.replicas.push(r);
    this.spawn(r, extraEnv);
    await this.waitReady(index);
    return index;
  }

  /** Stops every replica (SIGKILL for one still there after its graceful shutdown), the proxy, and removes what the cluster created. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.healthTimer);
    await Promise.all(
      this.replicas.map(async (r) => {
        const child = r.child;
        if (!child) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(force);
      }),
    );
    if (this.proxy?.listening) {
      this.proxy.closeAllConnections();
      await new Promise((done) => this.proxy.close(done));
    }
    this.agent.destroy();
    const { databaseUrl, schema } = this.options;
    if (databaseUrl && schema) {
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        await admin.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await admin.end();
      }
    }
    if (this.baseDir) rmSync(this.baseDir, { recursive: true, force: true });
  }

  private replica(index: number): Replica {
    const r = this.replicas[index];
    if (!r) throw new RangeError(`no replica ${index}`);
    return r;
  }

  private async checkAll(): Promise<void> {
    await Promise.all(this.replicas.map((r) => this.check(r)));
  }

  /** Asks `r`'s readiness; in rotation exactly when it answered 200. */
  private check(r: Replica): Promise<boolean> {
    if (!r.child) {
      r.inRotation = false;
      return Promise.resolve(false);
    }
    return new Promise((done) => {
      const settle = (ok: boolean) => {
        r.inRotation = ok && r.child !== null;
        done(r.inRotation);
      };
      const req = httpRequest(`${r.url}${READY_PATH}`, { agent: this.agent, timeout: HEALTH_TIMEOUT_MS }, (res) => {
        res.resume();
        settle(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => settle(false));
      req.end();
    });
  }

  /** The next replica in rotation, round robin; none when no replica is ready. */
  private pick(): Replica | undefined {
    for (let i = 0; i < this.replicas.length; i++) {
      const r = this.replicas[(this.next + i) % this.replicas.length]!;
      if (r.inRotation) {
        this.next = (r.index + 1) % this.replicas.length;
        return r;
      }
    }
    return undefined;
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const target = this.pick();
    if (!target) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ success: false, error: { code: 'no_replica', message: 'No replica is ready' } }));
      return;
    }
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    const forwardedFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = `${forwardedFor ? `${String(forwardedFor)}, ` : ''}${req.socket.remoteAddress ?? ''}`;
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers, agent: this.agent },
      (answer) => {
        const out: Record<string, string | string[]> = { 'x-cluster-replica': String(target.index) };
        for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
        // Headers go out now, and each chunk as it comes: a stream is never held back here.
        res.flushHeaders();
        answer.pipe(res);
        // A replica that dies mid-response: the client sees its response cut, as it would without the proxy.
        answer.on('aborted', () => res.destroy());
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      target.inRotation = false;
      res.writeHead(502, { 'content-type': 'application/json', 'x-cluster-replica': String(target.index) });
      res.end(JSON.stringify({ success: false, error: { code: 'bad_gateway', message: `Replica ${target.index} did not answer` } }));
    });
    // A client that leaves takes its upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}
