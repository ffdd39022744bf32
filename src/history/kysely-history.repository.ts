import type { OnModuleDestroy } from '@nestjs/common';
import { CompiledQuery, sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { migrateDatabase, type HistoryDatabaseHandle } from './history-database.js';
import { createHistoryIndexes, HISTORY_INDEXES, historyMigrations } from './history.migrations.js';
import { HistoryRepository, type GuardedRows, type SeekDirection } from './history.repository.js';
import { RECORD_COLUMNS, type HistoryRecord } from './history-records.js';
import { bucketDeltas, DAY_MS, DAY_OF_CREATED_AT_SQL, type Bucket } from './history-buckets.js';
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
/** Rows per pull of an export's cursor (about 400 KB of NDJSON): one async step and one loop check a batch. */
const STREAM_BATCH_ROWS = 1000;
/** Buckets raised per UPSERT (six parameters each), on the same two grounds. */
const BUCKETS_PER_STATEMENT = 500;
const SQLITE_BUCKETS_PER_STATEMENT = 1;

interface BucketRow {
  scope: string;
  day: number | string;
  row_count: number | string;
  oldest: number | string;
  newest: number | string;
  shifts: number | string;
}

/** PostgreSQL returns BIGINT as a string. */
function bucketOf(r: BucketRow): Bucket {
  return { scope: r.scope, day: Number(r.day), rows: Number(r.row_count), oldest: Number(r.oldest), newest: Number(r.newest), shifts: Number(r.shifts) };
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

type DatedRow = NewHistoryRow & { created_at: Date };

/** `rows`, each with its `created_at` (`now` where it has none). */
function datedRows(rows: readonly NewHistoryRow[], now: Date): DatedRow[] {
  return rows.map((r) => (r.created_at ? (r as DatedRow) : { ...r, created_at: now }));
}

function params(row: DatedRow): unknown[] {
  return [
    row.user_id, row.caption, JSON.stringify(row.hashtags), row.style, row.audience, row.content_type,
    row.language, row.quality_score, row.engagement_score, row.request_id, row.created_at.getTime(),
  ];
}

/** The one query path for SQLite and PostgreSQL (see {@link HistoryRepository}). */
export class KyselyHistoryRepository extends HistoryRepository implements OnModuleDestroy {
  private readonly db: Kysely<HistoryDatabase>;
  /** INSERT text by row count, compiled once: bulk loads skip Kysely's per-statement compile. */
  private readonly insertSql = new Map<number, string>();
  private readonly bucketSql = new Map<number, string>();
  private transactionCount = 0;
  private secret?: Buffer;
  private closed = false;

  /** The database itself: other features keep tables of their own in it (see the migrations). */
  constructor(readonly handle: HistoryDatabaseHandle) {
    super();
    this.db = handle.db;
  }

  async migrate(): Promise<void> {
    await migrateDatabase(this.handle, historyMigrations(this.handle.engine), 'history');
  }

  async ping(): Promise<void> {
    await this.db.executeQuery(CompiledQuery.raw('select 1'));
  }

  get transactions(): number {
    return this.transactionCount;
  }

  async insertMany(rows: NewHistoryRow[]): Promise<Bucket[]> {
    if (rows.length === 0) return [];
    const dated = datedRows(rows, new Date());
    const statements = [...this.insertStatements(dated), ...this.bucketStatements(dated)];
    this.transactionCount += 1;
    if (this.handle.runBatch) return (this.handle.runBatch(statements) as BucketRow[]).map(bucketOf);
    if (statements.length === 2) {
      // One statement is atomic on its own: the rows and their buckets in one round trip, no BEGIN/COMMIT.
      const [[rowsSql, rowParams], [bucketSql, bucketParams]] = statements as [[string, unknown[]], [string, unknown[]]];
      const shifted = bucketSql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + rowParams.length}`);
      const { rows: raised } = await this.db.executeQuery<BucketRow>(CompiledQuery.raw(`with inserted as (${rowsSql}) ${shifted}`, [...rowParams, ...bucketParams]));
      return raised.map(bucketOf);
    }
    return this.db.transaction().execute(async (trx) => {
      const raised: Bucket[] = [];
      for (const [text, values] of statements) {
        for (const r of (await trx.executeQuery<BucketRow>(CompiledQuery.raw(text, values))).rows) raised.push(bucketOf(r));
      }
      return raised;
    });
  }

  async insertGuarded(entries: ReadonlyArray<GuardedRows>): Promise<{ applied: boolean[]; buckets: Bucket[] }> {
    const now = new Date();
    const dated = entries.map((e) => datedRows(e.rows, now));
    const bucketsOf = (applied: boolean[]) => {
      const rows = dated.flatMap((r, i) => (applied[i] ? r : []));
      return rows.length === 0 ? [] : this.bucketStatements(rows);
    };
    this.transactionCount += 1;
    if (this.handle.runGuarded) {
      const groups = entries.map((e, i) => ({
        guard: [e.guard.sql, [...e.guard.parameters]] as [string, unknown[]],
        then: this.insertStatements(dated[i]!),
      }));
      const { applied, returned } = this.handle.runGuarded(groups, bucketsOf);
      return { applied, buckets: (returned as BucketRow[]).map(bucketOf) };
    }
    return this.db.transaction().execute(async (trx) => {
      const applied: boolean[] = [];
      for (const [i, e] of entries.entries()) {
        const took = ((await trx.executeQuery(e.guard)).numAffectedRows ?? 0n) > 0n;
        applied.push(took);
        if (!took) continue;
        for (const [text, values] of this.insertStatements(dated[i]!)) await trx.executeQuery(CompiledQuery.raw(text, values));
      }
      const buckets: Bucket[] = [];
      for (const [text, values] of bucketsOf(applied)) {
        for (const r of (await trx.executeQuery<BucketRow>(CompiledQuery.raw(text, values))).rows) buckets.push(bucketOf(r));
      }
      return { applied, buckets };
    });
  }

  /** The INSERTs of `rows`, in statements of the engine's best size. */
  private insertStatements(rows: DatedRow[]): Array<[string, unknown[]]> {
    const perStatement = this.handle.runBatch ? SQLITE_ROWS_PER_STATEMENT : ROWS_PER_STATEMENT;
    const statements: Array<[string, unknown[]]> = [];
    for (let i = 0; i < rows.length; i += perStatement) {
      const slice = rows.slice(i, i + perStatement);
      statements.push([this.insertText(slice.length), slice.flatMap(params)]);
    }
    return statements;
  }

  /**
   * The bucket UPSERTs of `rows`. The buckets rise in the same transaction as the rows: a reader
   * that sees a bucket's new state sees its rows, and a failed insert leaves both as they were.
   * Ordered `all` first (in every write), so concurrent writers on PostgreSQL lock bucket rows in
   * one order (no deadlock).
   */
  private bucketStatements(rows: DatedRow[]): Array<[string, unknown[]]> {
    const deltas = bucketDeltas(rows);
    const bucketsPerStatement = this.handle.runBatch ? SQLITE_BUCKETS_PER_STATEMENT : BUCKETS_PER_STATEMENT;
    const statements: Array<[string, unknown[]]> = [];
    for (let i = 0; i < deltas.length; i += bucketsPerStatement) {
      const slice = deltas.slice(i, i + bucketsPerStatement);
      statements.push([this.bucketText(slice.length), slice.flatMap((b) => [b.scope, b.day, b.rows, b.oldest, b.newest, 0])]);
    }
    return statements;
  }

  async readBuckets(scope: string): Promise<Bucket[]> {
    const rows = await this.db
      .selectFrom('history_buckets')
      .select(['scope', 'day', 'row_count', 'oldest', 'newest', 'shifts'])
      .where('scope', '=', scope)
      .orderBy('day')
      .execute();
    return rows.map(bucketOf);
  }

  async countByDay(filter: HistoryFilter, days: readonly number[], upTo: number): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (days.length === 0) return out;
    const lo = Math.min(...days) * DAY_MS;
    const hi = Math.min((Math.max(...days) + 1) * DAY_MS - 1, upTo);
    const rows = await this.db
      .selectFrom('caption_history')
      .select([sql<number | string>`${sql.raw(DAY_OF_CREATED_AT_SQL)}`.as('day'), (eb) => eb.fn.countAll<number | string>().as('n')])
      .where((eb) => where(eb, { ...filter, from: Math.max(filter.from ?? lo, lo), to: Math.min(filter.to ?? hi, hi) }))
      .groupBy(sql.raw(DAY_OF_CREATED_AT_SQL))
      .execute();
    const wanted = new Set(days);
    for (const r of rows) if (wanted.has(Number(r.day))) out.set(Number(r.day), Number(r.n));
    return out;
  }

  /**
   * `UPSERT` adding `n` buckets' rows: `shifts` rises when the new rows are not all newer than the
   * bucket's newest row (they land among rows already there), and returns the buckets as they now are.
   */
  private bucketText(n: number): string {
    let text = this.bucketSql.get(n);
    if (!text) {
      const placeholder = { scope: '', day: 0, row_count: 0, oldest: 0, newest: 0, shifts: 0 };
      text = this.db
        .insertInto('history_buckets')
        .values(Array.from({ length: n }, () => placeholder))
        .onConflict((oc) =>
          oc.columns(['scope', 'day']).doUpdateSet({
            row_count: sql`history_buckets.row_count + excluded.row_count`,
            shifts: sql`history_buckets.shifts + (case when excluded.oldest <= history_buckets.newest then 1 else 0 end)`,
            oldest: sql`(case when excluded.oldest < history_buckets.oldest then excluded.oldest else history_buckets.oldest end)`,
            newest: sql`(case when excluded.newest > history_buckets.newest then excluded.newest else history_buckets.newest end)`,
          }),
        )
        .returning(['scope', 'day', 'row_count', 'oldest', 'newest', 'shifts'])
        .compile().sql;
      this.bucketSql.set(n, text);
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

  streamRecords(filter: HistoryFilter): AsyncIterableIterator<HistoryRecord[]> {
    const query = this.db
      .selectFrom('caption_history')
      .select([...RECORD_COLUMNS])
      .where((eb) => where(eb, filter))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .compile();
    return this.handle.streamArrays(query, STREAM_BATCH_ROWS) as AsyncIterableIterator<HistoryRecord[]>;
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
