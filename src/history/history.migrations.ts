import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { randomBytes } from 'node:crypto';
import { DAY_OF_CREATED_AT_SQL } from './history-buckets.js';

export type Engine = 'sqlite' | 'postgres';

/** The indexes: each ends in the API's order (created_at, id). */
export const HISTORY_INDEXES: ReadonlyArray<readonly [string, string[]]> = [
  ['caption_history_created_idx', ['created_at', 'id']],
  ['caption_history_user_idx', ['user_id', 'created_at', 'id']],
  ['caption_history_style_idx', ['style', 'created_at', 'id']],
];

/** Creates the indexes that are missing (the migration, and the seed after a bulk load). */
export async function createHistoryIndexes(db: Kysely<unknown>): Promise<void> {
  for (const [name, columns] of HISTORY_INDEXES) {
    await db.schema.createIndex(name).ifNotExists().on('caption_history').columns([...columns]).execute();
  }
}

/**
 * The schema, in order. Kysely's Migrator records what ran in `kysely_migration` and takes a lock
 * (so two instances starting together on PostgreSQL do not race): running them again is a no-op.
 */
export function historyMigrations(engine: Engine): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001_caption_history': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('caption_history')
          .ifNotExists()
          // SQLite: INTEGER PRIMARY KEY is the rowid itself (no second index); PostgreSQL: an identity.
          .addColumn('id', engine === 'sqlite' ? 'integer' : 'bigserial', (c) => c.primaryKey())
          .addColumn('user_id', 'text')
          .addColumn('caption', 'text', (c) => c.notNull())
          .addColumn('hashtags', 'text', (c) => c.notNull())
          .addColumn('style', 'text', (c) => c.notNull())
          .addColumn('audience', 'text', (c) => c.notNull())
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('language', 'text', (c) => c.notNull())
          .addColumn('quality_score', 'double precision', (c) => c.notNull())
          .addColumn('engagement_score', 'double precision', (c) => c.notNull())
          .addColumn('request_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        // Each index ends in the API's order (created_at, id), so a filter is one range scan in
        // order and a keyset seek is one index probe.
        await createHistoryIndexes(db);
        await db.schema
          .createTable('history_meta')
          .ifNotExists()
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        // The key that signs cursors: kept in the database so every instance sharing it, and every
        // restart, accepts the same cursors.
        await sql`insert into history_meta (key, value) values ('cursor_secret', ${randomBytes(32).toString('base64url')})
                  on conflict (key) do nothing`.execute(db);
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('history_meta').ifExists().execute();
        await db.schema.dropTable('caption_history').ifExists().execute();
      },
    },
    '0002_history_versions': {
      // One counter per scope (`all`, `user:<id>`, `style:<style>`), raised in the transaction that
      // inserts rows of that scope: the data version every instance and every restart agrees on.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('history_versions')
          .ifNotExists()
          .addColumn('scope', 'text', (c) => c.primaryKey())
          .addColumn('version', engine === 'sqlite' ? 'integer' : 'bigint', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('history_versions').ifExists().execute();
      },
    },
    '0003_history_buckets': {
      // Day buckets per scope (history-buckets.ts) replace the one counter per scope: a write now
      // moves only the days it falls into. Filled from the rows already there, so a database
      // written before this migration is read correctly after it.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('history_buckets')
          .ifNotExists()
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('day', 'bigint', (c) => c.notNull())
          .addColumn('row_count', 'bigint', (c) => c.notNull())
          .addColumn('oldest', 'bigint', (c) => c.notNull())
          .addColumn('newest', 'bigint', (c) => c.notNull())
          .addColumn('shifts', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('history_buckets_pk', ['scope', 'day'])
          .execute();
        const fill = (scope: string, where: string, by: string) =>
          sql.raw(`insert into history_buckets (scope, day, row_count, oldest, newest, shifts)
                   select ${scope}, ${DAY_OF_CREATED_AT_SQL}, count(*), min(created_at), max(created_at), 0
                   from caption_history ${where} group by ${by}${by ? ', ' : ''}${DAY_OF_CREATED_AT_SQL}`);
        await fill("'all'", '', '').execute(db);
        await fill("'user:' || user_id", 'where user_id is not null', 'user_id').execute(db);
        await fill("'style:' || style", '', 'style').execute(db);
        await db.schema.dropTable('history_versions').ifExists().execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('history_buckets').ifExists().execute();
        await db.schema
          .createTable('history_versions')
          .ifNotExists()
          .addColumn('scope', 'text', (c) => c.primaryKey())
          .addColumn('version', engine === 'sqlite' ? 'integer' : 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0004_idempotency_records': {
      // Idempotency-Key records of streamed batches when no Redis is shared: one row a key (the
      // primary key makes a claim atomic across instances), gone once `expires_at` (ms) passed.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('idempotency_records')
          .ifNotExists()
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('owner', 'text')
          .addColumn('record', 'text', (c) => c.notNull())
          .addColumn('bytes', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('idempotency_records_expires_idx').ifNotExists().on('idempotency_records').column('expires_at').execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('idempotency_records').ifExists().execute();
      },
    },
  };
  return { getMigrations: async () => migrations };
}
