import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { mkdirSync } from 'node:fs';
import { PRIVATE_DIR_MODE, refuseSymlinks, restrictFiles, sqliteFiles } from '../common/fs/private-paths.js';
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
   * Rows of one SELECT (compiled by Kysely), each passed through `map`, from a database cursor on a connection of its own,
   * pulled one at a time; `return()` closes the cursor. A connection of its own, because SQLite
   * has one connection behind a mutex: an export on it would hold back every other query for as
   * long as a slow client reads. SQLite steps a read-only connection's statement (a WAL snapshot,
   * blocking no writer) synchronously per pull, with no async layers per row; PostgreSQL uses
   * Kysely's pg-cursor stream on a pooled connection, `chunkSize` rows per fetch.
   */
  streamQuery<R, T>(query: CompiledQuery<R>, chunkSize: number, map: (row: R) => T): AsyncIterableIterator<T>;
  /**
   * SQLite only: runs the statements (SQL compiled by Kysely, with their parameters) in one
   * transaction, keeping each prepared statement for reuse. better-sqlite3 is synchronous, so
   * nothing can interleave with it; it is 2-3x faster than re-preparing a multi-row INSERT for
   * every batch through the async driver.
   */
  runBatch?(statements: Array<[sql: string, params: unknown[]]>): void;
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

/**
 * The file and its journals are 0600 (the database holds the cursor secret), and none of them may
 * be a symbolic link: SQLite would create or write the file wherever the link points.
 * @throws SymlinkRefusedError naming the link.
 */
function openSqlite(file: string, options: HistoryDatabaseOptions): HistoryDatabaseHandle {
  mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  refuseSymlinks(sqliteFiles(file));
  const conn = new Database(file);
  // Before WAL is on: SQLite gives the -wal and -shm files the database file's mode.
  restrictFiles(sqliteFiles(file));
  // WAL: readers (exports) never block the writer; NORMAL sync is still atomic per transaction in WAL.
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = NORMAL');
  conn.pragma('busy_timeout = 5000');
  if (options.sqliteCacheKib) conn.pragma(`cache_size = -${Math.floor(options.sqliteCacheKib)}`);
  const db = new Kysely<HistoryDatabase>({ dialect: new SqliteDialect({ database: conn }) });
  const statements = new Map<string, Database.Statement>();
  const batch = conn.transaction((list: Array<[string, unknown[]]>) => {
    for (const [sql, params] of list) {
      let stmt = statements.get(sql);
      if (!stmt) {
        stmt = conn.prepare(sql);
        statements.set(sql, stmt);
      }
      stmt.run(params);
    }
  });
  return {
    engine: 'sqlite',
    db,
    runBatch: (list) => batch(list),
    streamQuery<R, T>(query: CompiledQuery<R>, _chunkSize: number, map: (row: R) => T): AsyncIterableIterator<T> {
      let reader: Database.Database | undefined = new Database(file, { readonly: true });
      const rows = reader.prepare(query.sql).iterate(...(query.parameters as unknown[])) as IterableIterator<R>;
      const close = () => {
        if (!reader) return;
        rows.return?.();
        reader.close();
        reader = undefined;
      };
      return {
        [Symbol.asyncIterator]() {
          return this;
        },
        async next(): Promise<IteratorResult<T>> {
          if (!reader) return { done: true, value: undefined };
          const r = rows.next();
          if (!r.done) return { done: false, value: map(r.value) };
          close();
          return { done: true, value: undefined };
        },
        async return() {
          close();
          return { done: true, value: undefined };
        },
      };
    },
    destroy: () => db.destroy(),
  };
}

function openPostgres(url: string, options: HistoryDatabaseOptions): HistoryDatabaseHandle {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client whose connection dies (database restart, network cut) is reported here; with no
  // listener the pool's 'error' event would crash the process. The pool drops that client, the next
  // query opens a new connection, and the readiness probe reports the outage meanwhile.
  pool.on('error', () => undefined);
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
  return {
    engine: 'postgres',
    db,
    async *streamQuery<R, T>(query: CompiledQuery<R>, chunkSize: number, map: (row: R) => T): AsyncGenerator<T> {
      for await (const result of db.getExecutor().stream(query, chunkSize)) for (const row of result.rows) yield map(row);
    },
    destroy: () => db.destroy(),
  };
}
