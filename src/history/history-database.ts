import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, sql, SqliteDialect, type MigrationProvider } from 'kysely';
import { mkdirSync } from 'node:fs';
import { MB } from '../config/units.js';
import { PRIVATE_DIR_MODE, refuseSymlinks, restrictFiles, sqliteFiles } from '../common/fs/private-paths.js';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type pg from 'pg';
import type Cursor from 'pg-cursor';
import { guardedPool } from './database-unavailable.js';
import type { Engine } from './history.migrations.js';
import type { HistoryDatabase } from './history.types.js';

/** DI token of the service's one {@link HistoryDatabaseHandle} (exported by the history module). */
export const HISTORY_DATABASE = Symbol('HISTORY_DATABASE');

/** A Kysely instance for one engine, plus a way to get a connection of its own for a long read. */
export interface HistoryDatabaseHandle {
  engine: Engine;
  db: Kysely<HistoryDatabase>;
  /**
   * Rows of one SELECT (compiled by Kysely) from a database cursor on a connection of its own, as
   * arrays of the selected columns in order, up to `batchRows` rows per pull; `return()` closes
   * the cursor. Arrays in batches, because an export spends its time per row: no object per row,
   * no async step per row. A connection of its own, because SQLite has one connection behind a
   * mutex: an export on it would hold back every other query for as long as a slow client reads.
   * SQLite steps a read-only connection's statement (one WAL snapshot, blocking no writer)
   * synchronously, a batch per pull; PostgreSQL uses Kysely's pg-cursor stream, `batchRows` rows
   * per fetch, on a connection from a pool kept for these reads (see
   * {@link HistoryDatabaseOptions.exports}), so however many run, the pool that serves every other
   * query keeps its connections.
   */
  streamArrays(query: CompiledQuery, batchRows: number): AsyncIterableIterator<unknown[][]>;
  /**
   * SQLite only: runs the statements (SQL compiled by Kysely, with their parameters) in one
   * transaction, keeping each prepared statement for reuse. better-sqlite3 is synchronous, so
   * nothing can interleave with it; it is 2-3x faster than re-preparing a multi-row INSERT for
   * every batch through the async driver. Returns the rows of the statements that return rows
   * (`RETURNING`), in order, as one list.
   */
  runBatch?(statements: Array<[sql: string, params: unknown[]]>): unknown[];
  /**
   * SQLite only, like {@link runBatch} but guarded: in one transaction, runs each group's `guard`
   * and, only when it changed a row, that group's `then` statements; then the statements `after`
   * returns for the list of guards that took. Returns that list and the rows `after`'s statements
   * returned. A write that must happen once (a conditional UPDATE) and what depends on it commit
   * together or not at all.
   */
  runGuarded?(groups: readonly GuardedGroup[], after: (applied: boolean[]) => Array<[sql: string, params: unknown[]]>): { applied: boolean[]; returned: unknown[] };
  /**
   * SQLite only: checkpoints the write-ahead log without ever waiting. With no stream of this
   * handle reading, TRUNCATE: the log is copied into the database and the file cut to zero bytes
   * (a reader of another process makes it report `busy` instead). With one reading, PASSIVE:
   * the log can only restart once no snapshot uses it, so this copies what it can and the file is
   * cut back to the journal size limit when a writer restarts it later. Skipped (undefined) while
   * the main connection is inside a transaction.
   */
  checkpoint?(): WalCheckpoint | undefined;
  destroy(): Promise<void>;
}

/** One guarded write of {@link HistoryDatabaseHandle.runGuarded}: `then` runs only when `guard` changed a row. */
export interface GuardedGroup {
  guard: [sql: string, params: unknown[]];
  then: Array<[sql: string, params: unknown[]]>;
}

/** What one checkpoint did, as SQLite reports it. */
export interface WalCheckpoint {
  mode: 'TRUNCATE' | 'PASSIVE';
  /** It could not finish: a reader or writer held the log. */
  busy: boolean;
  /** Frames in the log, and how many of them are now in the database (-1 when unknown). */
  logFrames: number;
  checkpointedFrames: number;
}

export interface HistoryDatabaseOptions {
  /** PostgreSQL only: how long one connection attempt may take before it fails (default 3 s). */
  connectTimeoutMs?: number;
  /** PostgreSQL only: the schema to use (tests give each run its own). */
  schema?: string;
  /**
   * PostgreSQL only: the pool behind `streamArrays`. `connections` is its size (callers bound the
   * number of concurrent streams to it; one more waits for a free connection), `statementTimeoutMs`
   * the `statement_timeout` of its connections, which bounds each fetch (0: none). Default: 2
   * connections, no timeout.
   */
  exports?: { connections: number; statementTimeoutMs: number };
  /** SQLite only: page cache of the main connection in KiB (bulk loads want a large one). */
  sqliteCacheKib?: number;
  /**
   * SQLite only: `journal_size_limit` in bytes, the size the write-ahead log file is cut back to
   * when it restarts after a checkpoint (SQLite keeps the file at its largest otherwise). Default 64 MB.
   */
  sqliteWalLimitBytes?: number;
}

const SQLITE_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
const DEFAULT_WAL_LIMIT_BYTES = 64 * MB;

/** Opens the database named by `AppConfig.databaseUrl`: `sqlite:<file>` or `postgres://…`. */
/**
 * Runs `provider`'s migrations on `handle` up to the latest, with Kysely's bookkeeping in `tables`
 * (a feature with tables of its own names its own, so its migrations and the history's never see
 * each other's). On PostgreSQL the bookkeeping lives in the connection's current schema: unless
 * told which schema, Kysely looks in every one and would take another schema's tables (another
 * service's or test run's on the same database) for its own.
 * @throws the migration's error, naming `what`.
 */
export async function migrateDatabase(
  handle: HistoryDatabaseHandle,
  provider: MigrationProvider,
  what: string,
  tables: { migrationTableName?: string; migrationLockTableName?: string } = {},
): Promise<void> {
  const migrationTableSchema =
    handle.engine === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(handle.db)).rows[0]?.schema : undefined;
  const { error } = await new Migrator({ db: handle.db, provider, migrationTableSchema, ...tables }).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(`${what} migration failed`, { cause: error });
}

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
  conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  conn.pragma(`journal_size_limit = ${Math.floor(options.sqliteWalLimitBytes ?? DEFAULT_WAL_LIMIT_BYTES)}`);
  if (options.sqliteCacheKib) conn.pragma(`cache_size = -${Math.floor(options.sqliteCacheKib)}`);
  const db = new Kysely<HistoryDatabase>({ dialect: new SqliteDialect({ database: conn }) });
  const statements = new Map<string, Database.Statement>();
  const prepared = (sql: string): Database.Statement => {
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = conn.prepare(sql);
      statements.set(sql, stmt);
    }
    return stmt;
  };
  const runAll = (list: Array<[string, unknown[]]>, returned: unknown[]): void => {
    for (const [sql, params] of list) {
      const stmt = prepared(sql);
      if (stmt.reader) returned.push(...stmt.all(params));
      else stmt.run(params);
    }
  };
  const batch = conn.transaction((list: Array<[string, unknown[]]>) => {
    const returned: unknown[] = [];
    runAll(list, returned);
    return returned;
  });
  const guarded = conn.transaction((groups: readonly GuardedGroup[], after: (applied: boolean[]) => Array<[string, unknown[]]>) => {
    const returned: unknown[] = [];
    const applied = groups.map(({ guard: [sql, params], then }) => {
      const took = prepared(sql).run(params).changes > 0;
      if (took) runAll(then, returned);
      return took;
    });
    runAll(after(applied), returned);
    return { applied, returned };
  });
  // Streams reading now: while one holds its snapshot, the log cannot be truncated.
  let readers = 0;
  return {
    engine: 'sqlite',
    db,
    runBatch: (list) => batch(list),
    runGuarded: (groups, after) => guarded(groups, after),
    checkpoint() {
      if (conn.inTransaction) return undefined;
      const mode = readers > 0 ? 'PASSIVE' : 'TRUNCATE';
      // No busy handler for this one call: waiting for another process's reader would hold the event loop.
      conn.pragma('busy_timeout = 0');
      try {
        const [r] = conn.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
        return { mode, busy: r!.busy !== 0, logFrames: r!.log, checkpointedFrames: r!.checkpointed };
      } finally {
        conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      }
    },
    streamArrays(query: CompiledQuery, batchRows: number): AsyncIterableIterator<unknown[][]> {
      let reader: Database.Database | undefined = new Database(file, { readonly: true });
      let rows: IterableIterator<unknown[]>;
      try {
        rows = reader.prepare(query.sql).raw(true).iterate(...(query.parameters as unknown[])) as IterableIterator<unknown[]>;
      } catch (err) {
        reader.close();
        throw err;
      }
      readers += 1;
      const close = () => {
        if (!reader) return;
        rows.return?.();
        reader.close();
        reader = undefined;
        readers -= 1;
      };
      return {
        [Symbol.asyncIterator]() {
          return this;
        },
        async next(): Promise<IteratorResult<unknown[][]>> {
          if (!reader) return { done: true, value: undefined };
          const batch: unknown[][] = [];
          while (batch.length < batchRows) {
            const r = rows.next();
            if (r.done) {
              close();
              break;
            }
            batch.push(r.value);
          }
          return batch.length > 0 ? { done: false, value: batch } : { done: true, value: undefined };
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

// The PostgreSQL driver is loaded when a PostgreSQL database is opened: a service on SQLite never
// holds its code (about 4 MB). Both packages are CommonJS, so a synchronous require keeps
// `openHistoryDatabase` synchronous.
const requirePackage = createRequire(import.meta.url);

function openPostgres(url: string, options: HistoryDatabaseOptions): HistoryDatabaseHandle {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  const { Pool } = requirePackage('pg') as typeof pg;
  const PgCursor = requirePackage('pg-cursor') as typeof Cursor;
  // A database that does not answer (a cut network, a host gone) fails a connection attempt after
  // `connectTimeoutMs` instead of holding the request until the client gives up.
  const connectionTimeoutMillis = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const kysely = (pool: pg.Pool) => {
    // An idle client whose connection dies (database restart, network cut) is reported here; with no
    // listener the pool's 'error' event would crash the process. The pool drops that client, the next
    // query opens a new connection, and the readiness probe reports the outage meanwhile.
    pool.on('error', () => undefined);
    // A client the pool has handed out has no listener of the pool's: a connection that dies while
    // it is held between two queries (a transaction, an export's cursor between fetches, the
    // database stopping with `pg_ctl stop -m fast`) would emit an unhandled 'error' and end the
    // process. The query in flight fails on its own; the dead client is dropped when it is released.
    pool.on('connect', (client) => client.on('error', () => undefined));
    return new Kysely<HistoryDatabase>({
      dialect: new PostgresDialect({
        // A little past the driver's own timeout: the driver's error, when it comes, names the cause.
        pool: guardedPool(pool, connectionTimeoutMillis + 500),
        cursor: PgCursor,
        onCreateConnection: schema
          ? async (c) => {
              await c.executeQuery(CompiledQuery.raw(`set search_path to "${schema}"`));
            }
          : undefined,
      }),
    });
  };
  const db = kysely(new Pool({ connectionString: url, max: 10, connectionTimeoutMillis }));
  // Long reads that a slow client paces get connections of their own: were they taken from the
  // pool above, a few stalled exports would leave pages, writes and the readiness probe waiting.
  const streams = options.exports ?? { connections: 2, statementTimeoutMs: 0 };
  const exportDb = kysely(
    new Pool({
      connectionString: url,
      max: streams.connections,
      connectionTimeoutMillis,
      ...(streams.statementTimeoutMs > 0 ? { statement_timeout: streams.statementTimeoutMs } : {}),
    }),
  );
  return {
    engine: 'postgres',
    db,
    async *streamArrays(query: CompiledQuery, batchRows: number): AsyncGenerator<unknown[][]> {
      // Rows come as objects whose keys follow the select list.
      for await (const result of exportDb.getExecutor().stream(query, batchRows)) {
        yield (result.rows as object[]).map((row) => Object.values(row) as unknown[]);
      }
    },
    destroy: async () => {
      await Promise.all([db.destroy(), exportDb.destroy()]);
    },
  };
}
