import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HistoryService } from '../src/history/history.service.js';
import { freePort } from './support/free-port.js';

const P = '/api/v14/lazy';

describe(`${HistoryService.name}: group commit and a crash (slow)`, () => {
  let child: ChildProcess | undefined;
  let dataDir: string | undefined;

  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses no acknowledged caption when the process is killed (SIGKILL) right after the acknowledgements', async () => {
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), 'history-crash-'));
    child = spawn(process.execPath, ['--import', './scripts/swc-register.mjs', 'src/main.ts'], {
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: `sqlite:${join(dataDir, 'history.sqlite')}` },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = once(child, 'exit');
    const base = `http://127.0.0.1:${port}${P}`;
    await vi.waitFor(async () => expect((await fetch(`${base}/health/ready`)).status).toBe(200), { timeout: 60_000, interval: 100 });

    // Writers in parallel, each POST a request of its own (so every one is generated and recorded).
    const acknowledged: string[] = [];
    let killed = false;
    let sent = 0;
    const writer = async () => {
      while (!killed) {
        const id = `crash-${sent++}`;
        try {
          const res = await fetch(`${base}/captions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ content_description: 'Sunrise over a quiet harbour with fishing boats', variation_count: 2, user_id: 'crash', request_id: id }),
          });
          if (res.status === 200 && ((await res.json()) as { request_id: string }).request_id === id) acknowledged.push(id);
        } catch {
          // The connection died with the process: not acknowledged.
        }
        if (acknowledged.length >= 200 && !killed) {
          killed = true;
          child!.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
    expect((await exited)[1]).toBe('SIGKILL');

    const db = new Database(join(dataDir, 'history.sqlite'));
    try {
      const stored = new Set(db.prepare('select request_id from caption_history').pluck().all() as string[]);
      expect(acknowledged.length).toBeGreaterThanOrEqual(200);
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      db.close();
    }
  }, 120_000);
});
