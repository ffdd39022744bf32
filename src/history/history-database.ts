import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { Engine } from './history.migrations.js';
import type { HistoryDatabase } from './history.types.js';

/** A Kysely instance for one engine, plus a way to get a connection of its own for a long read. */
export interface HistoryDatabaseHandle {
  engine: Engine;
  db: Kysely<HistoryDatabase>;
  /**
   * A connection for one long streaming read (an export). SQLite has one writer connection behind
   * a mutex, so an export on it would hold back every other query for as long as a slow client
   * reads; a separate read-only connection sees a WAL snapshot and blocks nobody. PostgreSQL's
   * pool already hands each stream its own connection.
   */
  openReader(): { db: Kysely<HistoryDatabase>; close(): Promise<void> };
  /**
   * SQLite only: runs `sql` once per parameter list, all in one transaction, with one prepared
   * statement. better-sqlite3 is synchronous, so nothing can interleave with it; it is 2-3x faster
   * than re-preparing a multi-row INSERT for every batch through the async driver.
   */
  runBatch?(sql: string, paramLists: unknown[][]): void;
  destroy(): Promise<void>;
}

export interface HistoryDatabaseOptions {
  /** PostgreSQL only: the schema to use (tests give each run its own). */
  schema?: string;
  /** SQLite only: page cache of the main connection in KiB (bulk loads want a large one). */
  sqliteCacheKib?: number;
}

/** Opens the database named by `AppConfig.databaseUrl`: `sqlite:<file>` or `postgres://…`. */
export function openHistoryDatabase(url: string, options: HistoryDatabaseOptions = {}): HistoryDatabaseHandle {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), options);
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, options);
  throw new Error('DATABASE_URL must start with sqlite: or postgres://');
}

function openSqlite(file: string, options: HistoryDatabaseOptions): HistoryDatabaseHandle {
  mkdirSync(dirname(file), { recursive: true });
  const conn = new Database(file);
  // WAL: readers (exports) never block the writer; NORMAL sync is still atomic per transaction in WAL.
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = NORMAL');
  conn.pragma('busy_timeout = 5000');
  if (options.sqliteCacheKib) conn.pragma(`cache_size = -${Math.floor(options.sqliteCacheKib)}`);
  const db = new Kysely<HistoryDatabase>({ dialect: new SqliteDialect({ database: conn }) });
  const statements = new Map<string, Database.Statement>();
  const batch = conn.transaction((sql: string, paramLists: unknown[][]) => {
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = conn.prepare(sql);
      statements.set(sql, stmt);
    }
    for (const p of paramLists) stmt.run(p);
  });
  return {
    engine: 'sqlite',
    db,
    runBatch: (sql, paramLists) => batch(sql, paramLists),
    openReader() {
      const reader = new Database(file, { readonly: true });
      reader.pragma('busy_timeout = 5000');
      const readerDb = new Kysely<HistoryDatabase>({ dialect: new SqliteDialect({ database: reader }) });
      return { db: readerDb, close: () => readerDb.destroy() };
    },
    destroy: () => db.destroy(),
  };
}

function openPostgres(url: string, options: HistoryDatabaseOptions): HistoryDatabaseHandle {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  const db = new Kysely<HistoryDatabase>({
    dialect: new PostgresDialect({
      pool,
      cursor: Cursor,
      onCreateConnection: schema
        ? async (c) => {
            await c.executeQuery(CompiledQuery.raw(`set search_path to "${schema}"`));
          }
        : undefined,
    }),
  });
  return { engine: 'postgres', db, openReader: () => ({ db, close: async () => undefined }), destroy: () => db.destroy() };
}
