import type { Kysely, Migration, MigrationProvider } from 'kysely';

type Engine = 'sqlite' | 'postgres';

/** Kysely's migration tables of this feature: its own, so the history's migrations and these never see each other's. */
export const JOBS_MIGRATION_TABLES = { migrationTableName: 'jobs_migration', migrationLockTableName: 'jobs_migration_lock' };

/** The batch job tables (see `jobs.types.ts`), in the service's one database. */
export function jobsMigrations(engine: Engine): MigrationProvider {
  const bigint = engine === 'sqlite' ? 'integer' : 'bigint';
  const migrations: Record<string, Migration> = {
    '0001_batches': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('batches')
          .ifNotExists()
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('total', 'integer', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('started_at', bigint)
          .addColumn('ended_at', bigint)
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .addColumn('cancel_initiated_at', bigint)
          .addColumn('metadata', 'text')
          .execute();
        // `GET /batches`: a caller's batches newest first, by keyset.
        await db.schema.createIndex('batches_owner_idx').ifNotExists().on('batches').columns(['owner', 'created_at', 'id']).execute();
        // The reconciler and the runner's resume: batches not ended.
        await db.schema.createIndex('batches_status_idx').ifNotExists().on('batches').columns(['status', 'expires_at']).execute();
        await db.schema
          .createTable('batch_items')
          .ifNotExists()
          .addColumn('batch_id', 'text', (c) => c.notNull())
          .addColumn('idx', 'integer', (c) => c.notNull())
          .addColumn('custom_id', 'text')
          .addColumn('request', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('result', 'text')
          .addColumn('ended_at', bigint)
          .addPrimaryKeyConstraint('batch_items_pk', ['batch_id', 'idx'])
          .execute();
        // custom_id is unique within its batch (rows without one, NULL, never collide).
        await db.schema.createIndex('batch_items_custom_idx').ifNotExists().unique().on('batch_items').columns(['batch_id', 'custom_id']).execute();
        // Counts by state, and "anything left to run?".
        await db.schema.createIndex('batch_items_state_idx').ifNotExists().on('batch_items').columns(['batch_id', 'state']).execute();
        await db.schema
          .createTable('batch_idempotency')
          .ifNotExists()
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('batch_id', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('batch_leases')
          .ifNotExists()
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('until', bigint, (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        for (const t of ['batch_leases', 'batch_idempotency', 'batch_items', 'batches']) await db.schema.dropTable(t).ifExists().execute();
      },
    },
  };
  return { getMigrations: async () => migrations };
}
