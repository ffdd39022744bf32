import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openHistoryDatabase } from '../../src/history/history-database.js';
import { KyselyHistoryRepository } from '../../src/history/kysely-history.repository.js';
import type { NewHistoryRow } from '../../src/history/history.types.js';

const pgUrl = process.env.TEST_DATABASE_URL;

/** One engine under test: opens a fresh, migrated repository and cleans up after itself. */
export interface EngineUnderTest {
  name: 'sqlite' | 'postgres';
  open(): Promise<{ repo: KyselyHistoryRepository; reopen(): Promise<KyselyHistoryRepository>; dispose(): Promise<void> }>;
}

const sqlite: EngineUnderTest = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'history-repo-'));
    const url = `sqlite:${join(dir, 'history.sqlite')}`;
    const make = async () => {
      const r = new KyselyHistoryRepository(openHistoryDatabase(url));
      await r.migrate();
      return r;
    };
    const repo = await make();
    return { repo, reopen: make, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

const postgres: EngineUnderTest = {
  name: 'postgres',
  async open() {
    // Each run gets its own schema, dropped afterwards.
    const schema = `history_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`create schema "${schema}"`);
    const make = async () => {
      const r = new KyselyHistoryRepository(openHistoryDatabase(pgUrl!, { schema }));
      await r.migrate();
      return r;
    };
    const repo = await make();
    return {
      repo,
      reopen: make,
      dispose: async () => {
        await admin.query(`drop schema "${schema}" cascade`);
        await admin.end();
      },
    };
  },
};

/** SQLite always; PostgreSQL when TEST_DATABASE_URL is set (else a loud warning). */
export function enginesUnderTest(what: string): EngineUnderTest[] {
  if (!pgUrl) console.warn(`\n*** SKIPPED: ${what} on PostgreSQL (set TEST_DATABASE_URL to run them) ***\n`);
  return pgUrl ? [sqlite, postgres] : [sqlite];
}

/** A plausible row; `n` makes it distinct. */
export function historyRow(n: number, overrides: Partial<NewHistoryRow> = {}): NewHistoryRow {
  return {
    user_id: `user_${n % 3}`,
    caption: `Caption number ${n}, with "quotes", commas\nand a newline`,
    hashtags: [`#tag${n}`, '#daily'],
    style: n % 2 === 0 ? 'casual' : 'professional',
    audience: 'general',
    content_type: 'post',
    language: 'english',
    quality_score: 50 + (n % 50),
    engagement_score: (n % 100) / 100,
    request_id: `req-${n}`,
    created_at: new Date(Date.UTC(2026, 0, 1) + n * 60_000),
    ...overrides,
  };
}

/** A database for whole test apps: SQLite in the app's own DATA_DIR, or a PostgreSQL schema of its own. */
export interface AppDatabase {
  name: 'sqlite' | 'postgres';
  /** Configuration that points an app at this database (every app given it shares it). */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

/** SQLite always; PostgreSQL when TEST_DATABASE_URL is set (else a loud warning). Call in `beforeAll`. */
export async function openAppDatabase(name: 'sqlite' | 'postgres'): Promise<AppDatabase> {
  if (name === 'sqlite') return { name, env: {}, dispose: async () => undefined };
  const schema = `history_app_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`create schema "${schema}"`);
  const url = new URL(pgUrl!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    name,
    env: { DATABASE_URL: url.toString() },
    dispose: async () => {
      await admin.query(`drop schema "${schema}" cascade`);
      await admin.end();
    },
  };
}

/** The engine names to run app-level specs on: SQLite, and PostgreSQL when TEST_DATABASE_URL is set. */
export function appEnginesUnderTest(what: string): Array<'sqlite' | 'postgres'> {
  return enginesUnderTest(what).map((e) => e.name);
}
