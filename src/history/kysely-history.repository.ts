import type { OnModuleDestroy } from '@nestjs/common';
import { CompiledQuery, Migrator, sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import type { HistoryDatabaseHandle } from './history-database.js';
import { createHistoryIndexes, HISTORY_INDEXES, historyMigrations } from './history.migrations.js';
import { HistoryRepository, type GuardedRows, type SeekDirection } from './history.repository.js';
import { scopesOfRows, type ScopeVersions } from './history-versions.js';
import type { CaptionHistoryTable, HistoryDatabase, HistoryFilter, HistoryRow, NewHistoryRow, SortKey } from './history.types.js';

type Eb = ExpressionBuilder<HistoryDatabase, 'caption_history'>;

const COLUMNS = [
  'user_id', 'caption', 'hashtags', 'style', 'audience', 'content_type', 'language',
  'quality_score', 'engagement_score', 'request_id', 'created_at',
] as const;
/** Rows per INSERT statement: 11 parameters each stays far below SQLite's and PostgreSQL's limits. */
const ROWS_PER_STATEMENT = 500;
/** SQLite keeps its prepared statements, so a smaller one that is reused beats re-preparing a big one. */
const SQLITE_ROWS_PER_STATEMENT = 50;
/** Scopes raised per version UPSERT (one parameter each), on the same two grounds. */
const SCOPES_PER_STATEMENT = 1000;
const SQLITE_SCOPES_PER_STATEMENT = 1;

interface VersionRow {
  scope: string;
  version: number | string;
}

/** PostgreSQL returns BIGINT as a string. */
function versionsOf(rows: readonly VersionRow[]): ScopeVersions {
  return new Map(rows.map((r) => [r.scope, Number(r.version)]));
}

function where(eb: Eb, f: HistoryFilter, from?: SortKey, direction: SeekDirection = 'older') {
  const parts = [];
  if (f.userId !== undefined) parts.push(eb('user_id', '=', f.userId));
  if (f.style !== undefined) parts.push(eb('style', '=', f.style));
  if (f.from !== undefined) parts.push(eb('created_at', '>=', f.from));
  if (f.to !== undefined) parts.push(eb('created_at', '<=', f.to));
  if (from) {
    // A row-value comparison is one index range on (…, created_at, id) in both engines.
    parts.push(eb(eb.refTuple('created_at', 'id'), direction === 'older' ? '<' : '>', eb.tuple(from.createdAt, from.id)));
  }
  return eb.and(parts);
}

function toApi(r: Selectable<CaptionHistoryTable>): HistoryRow {
  return {
    id: String(r.id),
    user_id: r.user_id,
    caption: r.caption,
    hashtags: JSON.parse(r.hashtags) as string[],
    style: r.style,
    audience: r.audience,
    content_type: r.content_type,
    language: r.language,
    quality_score: Number(r.quality_score),
    engagement_score: Number(r.engagement_score),
    request_id: r.request_id,
    // PostgreSQL returns BIGINT as a string.
    created_at: new Date(Number(r.created_at)).toISOString(),
  };
}

function params(row: NewHistoryRow, now: number): unknown[] {
  return [
    row.user_id, row.caption, JSON.stringify(row.hashtags), row.style, row.audience, row.content_type,
    row.language, row.quality_score, row.engagement_score, row.request_id, row.created_at?.getTime() ?? now,
  ];
}

/** The one query path for SQLite and PostgreSQL (see {@link HistoryRepository}). */
export class KyselyHistoryRepository extends HistoryRepository implements OnModuleDestroy {
  private readonly db: Kysely<HistoryDatabase>;
  /** INSERT text by row count, compiled once: bulk loads skip Kysely's per-statement compile. */
  private readonly insertSql = new Map<number, string>();
  private readonly bumpSql = new Map<number, string>();
  private secret?: Buffer;
  private closed = false;

  /** The database itself: other features keep tables of their own in it (see the migrations). */
  constructor(readonly handle: HistoryDatabaseHandle) {
    super();
    this.db = handle.db;
  }

  async migrate(): Promise<void> {
    // PostgreSQL: Kysely looks for its bookkeeping tables in every schema unless told which one, and
    // would take another schema's (another service's or test run's on the same database) for its own.
    const migrationTableSchema =
      this.handle.engine === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(this.db)).rows[0]?.schema : undefined;
    const migrator = new Migrator({ db: this.db, provider: historyMigrations(this.handle.engine), migrationTableSchema });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
  }

  async ping(): Promise<void> {
    await this.db.executeQuery(CompiledQuery.raw('select 1'));
  }

  async insertMany(rows: NewHistoryRow[]): Promise<ScopeVersions> {
    if (rows.length === 0) return new Map();
    const statements = [...this.insertStatements(rows, Date.now()), ...this.bumpStatements(rows)];
    if (this.handle.runBatch) return versionsOf(this.handle.runBatch(statements) as VersionRow[]);
    return this.db.transaction().execute(async (trx) => {
      const bumped: VersionRow[] = [];
      for (const [text, values] of statements) bumped.push(...(await trx.executeQuery<VersionRow>(CompiledQuery.raw(text, values))).rows);
      return versionsOf(bumped);
    });
  }

  async insertGuarded(entries: ReadonlyArray<GuardedRows>): Promise<{ applied: boolean[]; versions: ScopeVersions }> {
    const now = Date.now();
    const bumpsOf = (applied: boolean[]) => {
      const rows = entries.flatMap((e, i) => (applied[i] ? e.rows : []));
      return rows.length === 0 ? [] : this.bumpStatements(rows);
    };
    if (this.handle.runGuarded) {
      const groups = entries.map((e) => ({
        guard: [e.guard.sql, [...e.guard.parameters]] as [string, unknown[]],
        then: e.rows.length === 0 ? [] : this.insertStatements(e.rows, now),
      }));
      const { applied, returned } = this.handle.runGuarded(groups, bumpsOf);
      return { applied, versions: versionsOf(returned as VersionRow[]) };
    }
    return this.db.transaction().execute(async (trx) => {
      const applied: boolean[] = [];
      for (const e of entries) {
        const took = ((await trx.executeQuery(e.guard)).numAffectedRows ?? 0n) > 0n;
        applied.push(took);
        if (!took) continue;
        for (const [text, values] of this.insertStatements(e.rows, now)) await trx.executeQuery(CompiledQuery.raw(text, values));
      }
      const bumped: VersionRow[] = [];
      for (const [text, values] of bumpsOf(applied)) bumped.push(...(await trx.executeQuery<VersionRow>(CompiledQuery.raw(text, values))).rows);
      return { applied, versions: versionsOf(bumped) };
    });
  }

  /** The INSERTs of `rows`, in statements of the engine's best size. */
  private insertStatements(rows: NewHistoryRow[], now: number): Array<[string, unknown[]]> {
    const perStatement = this.handle.runBatch ? SQLITE_ROWS_PER_STATEMENT : ROWS_PER_STATEMENT;
    const statements: Array<[string, unknown[]]> = [];
    for (let i = 0; i < rows.length; i += perStatement) {
      const slice = rows.slice(i, i + perStatement);
      statements.push([this.insertText(slice.length), slice.flatMap((r) => params(r, now))]);
    }
    return statements;
  }

  /** The version UPSERTs of the scopes `rows` touch, `all` first. */
  private bumpStatements(rows: NewHistoryRow[]): Array<[string, unknown[]]> {
    const statements: Array<[string, unknown[]]> = [];
    // The versions rise in the same transaction as the rows: a reader that sees the new version
    // sees the rows, and a failed insert leaves both as they were.
    // `all` comes first and is in every write: on PostgreSQL concurrent writers queue on its row
    // before they lock any other scope, so they can never lock scopes in opposite orders (deadlock).
    const scopes = scopesOfRows(rows);
    const bumpsPerStatement = this.handle.runBatch ? SQLITE_SCOPES_PER_STATEMENT : SCOPES_PER_STATEMENT;
    for (let i = 0; i < scopes.length; i += bumpsPerStatement) {
      const slice = scopes.slice(i, i + bumpsPerStatement);
      statements.push([this.bumpText(slice.length), slice]);
    }
    return statements;
  }

  async readVersions(scopes: string[]): Promise<ScopeVersions> {
    if (scopes.length === 0) return new Map();
    const rows = await this.db.selectFrom('history_versions').select(['scope', 'version']).where('scope', 'in', scopes).execute();
    return versionsOf(rows);
  }

  /** `UPSERT` raising `n` scopes by one (a new scope starts at 1), returning their new versions. */
  private bumpText(n: number): string {
    let text = this.bumpSql.get(n);
    if (!text) {
      text = this.db
        .insertInto('history_versions')
        .values(Array.from({ length: n }, () => ({ scope: '', version: sql.lit(1) })))
        .onConflict((oc) => oc.column('scope').doUpdateSet({ version: sql<number>`history_versions.version + 1` }))
        .returning(['scope', 'version'])
        .compile().sql;
      this.bumpSql.set(n, text);
    }
    return text;
  }

  private insertText(n: number): string {
    let text = this.insertSql.get(n);
    if (!text) {
      const placeholder = Object.fromEntries(COLUMNS.map((c) => [c, null])) as never;
      text = this.db.insertInto('caption_history').values(Array.from({ length: n }, () => placeholder)).compile().sql;
      this.insertSql.set(n, text);
    }
    return text;
  }

  /**
   * Bulk loads into an empty table (the seed): `load` runs with only the (created_at, id) index,
   * which rows arriving oldest first append to, and the filter indexes are built once at the end,
   * in one sorted pass, instead of row by row at random places. On a table with rows it just runs `load`.
   */
  async bulkLoad(load: () => Promise<void>): Promise<void> {
    const empty = (await this.db.selectFrom('caption_history').select('id').limit(1).executeTakeFirst()) === undefined;
    const deferred = empty ? HISTORY_INDEXES.slice(1) : [];
    for (const [name] of deferred) await this.db.schema.dropIndex(name).ifExists().execute();
    try {
      await load();
    } finally {
      await createHistoryIndexes(this.db as Kysely<unknown>);
    }
  }

  async count(filter: HistoryFilter): Promise<number> {
    const r = await this.db
      .selectFrom('caption_history')
      .select((eb) => eb.fn.countAll().as('n'))
      .where((eb) => where(eb, filter))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async findRows(filter: HistoryFilter, opts: { from?: SortKey; direction: SeekDirection; limit: number }): Promise<HistoryRow[]> {
    const order = opts.direction === 'older' ? 'desc' : 'asc';
    const rows = await this.db
      .selectFrom('caption_history')
      .selectAll()
      .where((eb) => where(eb, filter, opts.from, opts.direction))
      .orderBy('created_at', order)
      .orderBy('id', order)
      .limit(opts.limit)
      .execute();
    const out = rows.map(toApi);
    return opts.direction === 'older' ? out : out.reverse();
  }

  async seekKey(filter: HistoryFilter, opts: { from?: SortKey; direction: SeekDirection; skip: number }): Promise<SortKey | undefined> {
    const order = opts.direction === 'older' ? 'desc' : 'asc';
    const r = await this.db
      .selectFrom('caption_history')
      .select(['created_at', 'id'])
      .where((eb) => where(eb, filter, opts.from, opts.direction))
      .orderBy('created_at', order)
      .orderBy('id', order)
      .limit(1)
      .offset(opts.skip)
      .executeTakeFirst();
    return r ? { createdAt: Number(r.created_at), id: Number(r.id) } : undefined;
  }

  streamRows(filter: HistoryFilter): AsyncIterableIterator<HistoryRow> {
    const query = this.db
      .selectFrom('caption_history')
      .selectAll()
      .where((eb) => where(eb, filter))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .compile();
    // Mapped inside the cursor's own iterator: no extra async layer per row.
    return this.handle.streamQuery(query, 1000, toApi);
  }

  async cursorSecret(): Promise<Buffer> {
    if (!this.secret) {
      const r = await this.db.selectFrom('history_meta').select('value').where('key', '=', 'cursor_secret').executeTakeFirstOrThrow();
      this.secret = Buffer.from(r.value, 'base64url');
    }
    return this.secret;
  }

  async maintain(): Promise<void> {
    if (!this.closed) this.handle.checkpoint?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.destroy();
  }

  /** Graceful shutdown: Nest destroys the module after the HTTP server stopped taking requests. */
  async onModuleDestroy(): Promise<void> {
    await this.close();
  }
}
