import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryRepository } from '../src/history/history.repository.js';
import { seedRows } from '../src/history/seed-rows.js';
import { listening } from './support/raw-request.js';
import { createTestApp, type TestApp } from './support/test-app.js';

// Enough rows that an export takes a good part of a second or more even on a fast machine.
const ROWS = 200_000;
const CLIENT = fileURLToPath(new URL('./support/export-with-liveness.mjs', import.meta.url));

interface ClientReport {
  lines: number;
  bytes: number;
  seconds: number;
  answered: number;
  max_gap_ms: number;
}

describe('history export and the event loop (e2e)', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp();
    const repo = t.app.get(HistoryRepository);
    const plan = { rows: ROWS, users: 500, days: 90, endMs: Date.UTC(2026, 10, 24) };
    for (let done = 0; done < ROWS; done += 20_000) await repo.insertMany(seedRows(plan, done, 20_000));
    base = `http://127.0.0.1:${await listening(t.app)}/api/v14/lazy`;
  }, 120_000);
  afterAll(async () => t.close());

  it('keeps answering liveness while a fast client reads a large SQLite export', { timeout: 120_000 }, async () => {
    // The client runs in a process of its own: were it in this one, its reads would wait for the
    // server's turns of the event loop, and the socket filling up would make the server yield.
    const { stdout } = await promisify(execFile)(process.execPath, [CLIENT, `${base}/caption-history/export?format=ndjson`, `${base}/health/live`]);
    const report = JSON.parse(stdout) as ClientReport;
    expect(report.lines).toBe(ROWS);
    // A loop held for the whole export answers no probe until it ends. One that yields answers
    // throughout: many times over, however busy the machine (no bound on milliseconds).
    expect(report.answered, JSON.stringify(report)).toBeGreaterThanOrEqual(20);
  });
});
