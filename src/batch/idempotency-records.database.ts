import type { Kysely } from 'kysely';
import type { HistoryDatabaseHandle } from '../history/history-database.js';
import {
  DEFAULT_LEASE_MS,
  FULL_RETRY_GUESS_MS,
  IdempotencyRecords,
  type FinishedRecord,
  type IdempotencyRecord,
  type RecordClaim,
  type RecordsOptions,
  type RecordsUsage,
} from './idempotency-records.js';

interface RecordsTable {
  key: string;
  state: 'running' | 'done';
  owner: string | null;
  /** The record's JSON. */
  record: string;
  bytes: number | string;
  /** Ms: a finished record's TTL, a running one's lease. */
  expires_at: number | string;
}

type Db = Kysely<{ idempotency_records: RecordsTable }>;

/**
 * The store in the service's database (SQLite, or PostgreSQL shared by every instance), used when
 * no Redis is: one row a key, so of two claims of one key on two instances the primary key lets
 * one in. A running row lives for its lease (`expires_at`, renewed by its run); rows whose time is
 * over are deleted at the next claim. The byte budget is checked in the claim's transaction: on
 * PostgreSQL, claims of different keys running at the same instant may pass it together by at
 * most their reservations (no table lock is taken for a budget).
 */
export class DatabaseIdempotencyRecords extends IdempotencyRecords {
  private readonly db: Db;
  private readonly now: () => number;

  constructor(
    handle: HistoryDatabaseHandle,
    private readonly options: RecordsOptions,
  ) {
    super();
    this.db = handle.db.withTables<{ idempotency_records: RecordsTable }>();
    this.now = options.now ?? (() => Date.now());
  }

  private get leaseMs(): number {
    return this.options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  async claim(key: string, reserveBytes: number, owner: string): Promise<RecordClaim> {
    const now = this.now();
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('idempotency_records').where('expires_at', '<=', now).execute();
      const existing = await trx.selectFrom('idempotency_records').select(['state', 'record']).where('key', '=', key).executeTakeFirst();
      if (existing) return exists(existing);
      const totals = await trx
        .selectFrom('idempotency_records')
        .select((eb) => [eb.fn.coalesce(eb.fn.sum<number | string>('bytes'), eb.lit(0)).as('used')])
        .executeTakeFirstOrThrow();
      if (Number(totals.used) + reserveBytes > this.options.maxBytes) {
        const next = await trx
          .selectFrom('idempotency_records')
          .select((eb) => eb.fn.min<number | string>('expires_at').as('at'))
          .where('state', '=', 'done')
          .executeTakeFirst();
        return { kind: 'full', retryAfterMs: next?.at == null ? FULL_RETRY_GUESS_MS : Math.max(1, Number(next.at) - now) };
      }
      const inserted = await trx
        .insertInto('idempotency_records')
        .values({ key, state: 'running', owner, record: JSON.stringify({ state: 'running' }), bytes: reserveBytes, expires_at: now + this.leaseMs })
        .onConflict((oc) => oc.column('key').doNothing())
        .returning('key')
        .executeTakeFirst();
      if (inserted) return { kind: 'claimed' };
      // Another instance inserted it since the read above (its transaction committed first).
      const winner = await trx.selectFrom('idempotency_records').select(['state', 'record']).where('key', '=', key).executeTakeFirst();
      return exists(winner ?? { state: 'running', record: '{"state":"running"}' });
    });
  }

  async renew(key: string, owner: string): Promise<boolean> {
    const result = await this.db
      .updateTable('idempotency_records')
      .set({ expires_at: this.now() + this.leaseMs })
      .where('key', '=', key)
      .where('owner', '=', owner)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async complete(key: string, owner: string, record: FinishedRecord, bytes: number): Promise<void> {
    const values = { state: 'done' as const, owner: null, record: JSON.stringify(record), bytes, expires_at: this.now() + this.options.ttlMs };
    // Its own row, or none (the lease ran out and nobody took the key): never another owner's.
    await this.db
      .insertInto('idempotency_records')
      .values({ key, ...values })
      .onConflict((oc) => oc.column('key').doUpdateSet(values).where('idempotency_records.owner', '=', owner))
      .execute();
  }

  async release(key: string, owner: string): Promise<void> {
    await this.db.deleteFrom('idempotency_records').where('key', '=', key).where('owner', '=', owner).where('state', '=', 'running').execute();
  }

  async usage(): Promise<RecordsUsage> {
    const now = this.now();
    const row = await this.db
      .selectFrom('idempotency_records')
      .select((eb) => [eb.fn.coalesce(eb.fn.sum<number | string>('bytes'), eb.lit(0)).as('bytes'), eb.fn.countAll<number | string>().as('records')])
      .where('expires_at', '>', now)
      .executeTakeFirstOrThrow();
    return { bytes: Number(row.bytes), records: Number(row.records), maxBytes: this.options.maxBytes };
  }

  /** Nothing to do: the database belongs to the history module, which closes it. */
  async close(): Promise<void> {}
}

function exists(row: { state: string; record: string }): RecordClaim {
  return { kind: 'exists', record: row.state === 'running' ? { state: 'running' } : (JSON.parse(row.record) as IdempotencyRecord) };
}
