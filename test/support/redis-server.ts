import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** The shared Redis of specs (`TEST_REDIS_URL`, else the machine's default one). */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other spec or run uses. */
export const uniqueRedisPrefix = (name: string) => `test:${name}:${process.pid}:${Date.now().toString(36)}:`;

/** Deletes every key under `prefix` in the shared Redis (never FLUSHALL: others use it too). */
export async function deleteRedisKeys(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const client = new Redis(url, { lazyConnect: true });
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/**
 * A redis-server of the spec's own on a free port, so a spec can stop it (and start it again on
 * the same port) without taking the shared Redis from anyone. Stopped by its PID.
 */
export class OwnRedisServer {
  private dir = '';
  private pid = 0;
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or starts again, on the same port) and waits until it answers. */
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    if (!this.dir) this.dir = mkdtempSync(join(tmpdir(), 'spec-redis-'));
    const pidFile = join(this.dir, 'redis.pid');
    await run('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile, '--dir', this.dir]);
    const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await client.connect();
        await client.ping();
        break;
      } catch (err) {
        client.disconnect();
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    client.disconnect();
    this.pid = Number(readFileSync(pidFile, 'utf8').trim());
  }

  /** Stops the server (SIGKILL: gone at once, as when a host dies) and waits until the process is gone. */
  async stop(): Promise<void> {
    if (!this.pid) return;
    const pid = this.pid;
    this.pid = 0;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`redis-server ${pid} did not stop`);
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
