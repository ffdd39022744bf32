import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** Where Debian's PostgreSQL keeps its programs (`PG_BIN` overrides). */
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The system user PostgreSQL runs as: initdb refuses root, and the data directory must be its own. */
const PG_USER = 'postgres';

/** Runs one of PostgreSQL's programs as {@link PG_USER}. */
function asPostgres(program: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('runuser', ['-u', PG_USER, '--', join(PG_BIN, program), ...args]);
}

/** The uid and gid of {@link PG_USER}, from the password file. */
function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${PG_USER}:`));
  if (!line) throw new Error(`no ${PG_USER} user on this machine`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A PostgreSQL server of the spec's own: a fresh cluster (`initdb`, trust authentication) on a free
 * port, with its socket in its own directory, so a spec can stop it (and start it again on the same
 * port, with the same data) without taking the shared PostgreSQL from anyone. Stopped with
 * `pg_ctl stop`, never by a process name.
 */
export class OwnPostgresServer {
  private dir = '';
  private running = false;
  port = 0;

  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  get url(): string {
    return `postgres://${PG_USER}@127.0.0.1:${this.port}/postgres`;
  }

  /** The postmaster's PID while running (first line of `postmaster.pid`), else 0. */
  get pid(): number {
    if (!this.running) return 0;
    try {
      return Number(readFileSync(join(this.dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return 0;
    }
  }

  /** Creates the cluster on first call; starts (or starts again, same port and data) and waits until it takes connections. */
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'spec-postgres-'));
      const { uid, gid } = postgresIds();
      chownSync(this.dir, uid, gid);
      await asPostgres('initdb', ['-D', this.dir, '-A', 'trust', '-U', PG_USER, '--no-sync']);
    }
    // -w: pg_ctl returns once the server accepts connections. fsync off: a test cluster, gone afterwards.
    await asPostgres('pg_ctl', ['-D', this.dir, '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', join(this.dir, 'log'), '-w', 'start']);
    this.running = true;
    await this.waitForConnection();
  }

  /** `pg_ctl stop -m fast`: open sessions are ended, as in a failover or an operator's restart; resolves once it is down. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await asPostgres('pg_ctl', ['-D', this.dir, '-m', 'fast', '-w', 'stop']);
  }

  async close(): Promise<void> {
    await this.stop().catch(() => undefined);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = '';
  }

  private async waitForConnection(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const client = new pg.Client({ connectionString: this.url });
      try {
        await client.connect();
        await client.query('select 1');
        await client.end();
        return;
      } catch (err) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}
