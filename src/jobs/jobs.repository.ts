import type { CompiledQuery, Kysely } from 'kysely';
import { migrateDatabase, type HistoryDatabaseHandle } from '../history/history-database.js';
import { JOBS_MIGRATION_TABLES, jobsMigrations } from './jobs.migrations.js';
import {
  OPEN_STATES,
  type BatchesTable,
  type BatchItemsTable,
  type FinalState,
  type ItemResult,
  type JobsDatabase,
  type NewItem,
  type RequestCounts,
} from './jobs.types.js';

/** A batch row with its times as numbers. */
export type BatchRow = Omit<BatchesTable, 'created_at' | 'started_at' | 'ended_at' | 'expires_at' | 'cancel_initiated_at'> & {
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  expires_at: number;
  cancel_initiated_at: number | null;
};

/** An item as a worker needs it. */
export interface OpenItem {
  idx: number;
  custom_id: string | null;
  request: string;
}

/** An item as the results stream needs it. */
export type StoredItem = Pick<BatchItemsTable, 'idx' | 'custom_id' | 'state' | 'result'>;

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toRow(r: BatchesTable): BatchRow {
  return {
    ...r,
    total: Number(r.total),
    created_at: Number(r.created_at),
    started_at: num(r.started_at),
    ended_at: num(r.ended_at),
    expires_at: Number(r.expires_at),
    cancel_initiated_at: num(r.cancel_initiated_at),
  };
}

/** Rows per INSERT of staged items: 5 parameters each, far below either engine's limit. */
const ITEMS_PER_STATEMENT = 500;

const resultText = (r: ItemResult) => JSON.stringify(r);

/**
 * The batch job tables, in the service's one database (SQLite or PostgreSQL, through the handle the
 * history module opened). Every write that must happen once is conditional (`WHERE state IN …`,
 * `ON CONFLICT DO NOTHING`), so running a piece of work again never changes what was written.
 */
export class JobsRepository {
  readonly db: Kysely<JobsDatabase>;

  constructor(readonly handle: HistoryDatabaseHandle) {
    this.db = handle.db as unknown as Kysely<JobsDatabase>;
  }

  get engine(): 'sqlite' | 'postgres' {
    return this.handle.engine;
  }

  async migrate(): Promise<void> {
    await migrateDatabase(this.handle, jobsMigrations(this.handle.engine), 'jobs', JOBS_MIGRATION_TABLES);
  }

  /** A new batch, `validating`: no route shows it until {@link commitBatch}. */
  async stageBatch(row: Omit<BatchRow, 'status' | 'started_at' | 'ended_at' | 'cancel_initiated_at'>): Promise<void> {
    await this.db
      .insertInto('batches')
      .values({ ...row, status: 'validating', started_at: null, ended_at: null, cancel_initiated_at: null })
      .execute();
  }

  /**
   * Stores items of a staged batch (an item with `error` is stored ended, `errored`). Returns the
   * index of the first item whose custom_id an earlier item of the batch has, or undefined.
   */
  async stageItems(batchId: string, items: readonly NewItem[], now: number): Promise<{ duplicate: NewItem; first: number } | undefined> {
    for (let i = 0; i < items.length; i += ITEMS_PER_STATEMENT) {
      const slice = items.slice(i, i + ITEMS_PER_STATEMENT);
      const inserted = await this.db
        .insertInto('batch_items')
        .values(
          slice.map((it) => ({
            batch_id: batchId,
            idx: it.idx,
            custom_id: it.custom_id,
            request: it.request,
            state: it.error ? ('errored' as const) : ('pending' as const),
            result: it.error ? resultText({ type: 'errored', error: it.error }) : null,
            ended_at: it.error ? now : null,
          })),
        )
        .onConflict((oc) => oc.doNothing())
        .returning('idx')
        .execute();
      if (inserted.length === slice.length) continue;
      const stored = new Set(inserted.map((r) => Number(r.idx)));
      const duplicate = slice.find((it) => !stored.has(it.idx))!;
      const first = await this.db
        .selectFrom('batch_items')
        .select('idx')
        .where('batch_id', '=', batchId)
        .where('custom_id', '=', duplicate.custom_id)
        .executeTakeFirst();
      return { duplicate, first: Number(first?.idx ?? duplicate.idx) };
    }
    return undefined;
  }

  /**
   * Makes a staged batch visible and runnable, together with its Idempotency-Key row when there is
   * one, in one transaction. Returns the batch that already holds the key (nothing committed) when
   * another request took it first.
   */
  async commitBatch(
    batchId: string,
    total: number,
    now: number,
    idempotency?: { key: string; fingerprint: string },
  ): Promise<{ taken?: { batchId: string; fingerprint: string } }> {
    const start = this.db
      .updateTable('batches')
      .set({ status: 'in_progress', started_at: now, total })
      .where('id', '=', batchId)
      .where('status', '=', 'validating')
      .compile();
    if (!idempotency) {
      await this.db.executeQuery(start);
      return {};
    }
    const claim = this.db
      .insertInto('batch_idempotency')
      .values({ key: idempotency.key, fingerprint: idempotency.fingerprint, batch_id: batchId, created_at: now })
      .onConflict((oc) => oc.doNothing())
      .compile();
    let took: boolean;
    if (this.handle.runGuarded) {
      // SQLite: synchronous, so no other write of this process can land inside the transaction.
      took = this.handle.runGuarded([{ guard: [claim.sql, [...claim.parameters]], then: [[start.sql, [...start.parameters]]] }], () => []).applied[0]!;
    } else {
      took = await this.db.transaction().execute(async (trx) => {
        const claimed = ((await trx.executeQuery(claim)).numAffectedRows ?? 0n) > 0n;
        if (claimed) await trx.executeQuery(start);
        return claimed;
      });
    }
    if (took) return {};
    const holder = await this.findKey(idempotency.key);
    return { taken: holder ?? { batchId: '', fingerprint: '' } };
  }

  async findKey(key: string): Promise<{ batchId: string; fingerprint: string } | undefined> {
    const r = await this.db.selectFrom('batch_idempotency').select(['batch_id', 'fingerprint']).where('key', '=', key).executeTakeFirst();
    return r ? { batchId: r.batch_id, fingerprint: r.fingerprint } : undefined;
  }

  /** Deletes a staged batch that will not be committed (bad upload, key taken). */
  async dropStaged(batchId: string): Promise<void> {
    await this.db.deleteFrom('batch_items').where('batch_id', '=', batchId).execute();
    await this.db.deleteFrom('batches').where('id', '=', batchId).where('status', '=', 'validating').execute();
  }

  async find(id: string): Promise<BatchRow | undefined> {
    const r = await this.db.selectFrom('batches').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toRow(r) : undefined;
  }

  /** A caller's committed batches, newest first, after the keyset position `after`. */
  async list(owner: string, limit: number, after?: { createdAt: number; id: string }): Promise<BatchRow[]> {
    let q = this.db.selectFrom('batches').selectAll().where('owner', '=', owner).where('status', '!=', 'validating');
    if (after) q = q.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(after.createdAt, after.id)));
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toRow);
  }

  async counts(batchId: string, total: number): Promise<RequestCounts> {
    const rows = await this.db
      .selectFrom('batch_items')
      .select((eb) => ['state', eb.fn.countAll().as('n')])
      .where('batch_id', '=', batchId)
      .groupBy('state')
      .execute();
    const by = new Map(rows.map((r) => [r.state as string, Number(r.n)]));
    return {
      total,
      processing: (by.get('pending') ?? 0) + (by.get('processing') ?? 0),
      succeeded: by.get('succeeded') ?? 0,
      errored: by.get('errored') ?? 0,
      canceled: by.get('canceled') ?? 0,
      expired: by.get('expired') ?? 0,
    };
  }

  /**
   * Up to `limit` items of [from, to) that have not ended, in input order, marked `processing`
   * (started: a cancel no longer touches them). Items left `processing` by a worker that died are
   * taken again.
   */
  async claim(batchId: string, from: number, to: number, limit: number): Promise<OpenItem[]> {
    const rows = await this.db
      .selectFrom('batch_items')
      .select(['idx', 'custom_id', 'request', 'state'])
      .where('batch_id', '=', batchId)
      .where('idx', '>=', from)
      .where('idx', '<', to)
      .where('state', 'in', OPEN_STATES)
      .orderBy('idx')
      .limit(limit)
      .execute();
    const pending = rows.filter((r) => r.state === 'pending').map((r) => Number(r.idx));
    if (pending.length > 0) {
      const marked = await this.db
        .updateTable('batch_items')
        .set({ state: 'processing' })
        .where('batch_id', '=', batchId)
        .where('idx', 'in', pending)
        .where('state', '=', 'pending')
        .returning('idx')
        .execute();
      // A cancel between the read and the mark took some: those are not ours to run.
      if (marked.length < pending.length) {
        const ours = new Set(marked.map((r) => Number(r.idx)));
        return rows.filter((r) => r.state === 'processing' || ours.has(Number(r.idx))).map(open);
      }
    }
    return rows.map(open);
  }

  /** The conditional write of one item's result: it takes only while the item has not ended. */
  finishQuery(batchId: string, idx: number, state: FinalState, result: ItemResult, now: number): CompiledQuery {
    return this.db
      .updateTable('batch_items')
      .set({ state, result: resultText(result), ended_at: now })
      .where('batch_id', '=', batchId)
      .where('idx', '=', idx)
      .where('state', 'in', OPEN_STATES)
      .compile();
  }

  /** Items not started end `canceled`; the batch is `canceling`. False when it had already ended. */
  async cancel(batchId: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('batches')
      .set({ status: 'canceling', cancel_initiated_at: now })
      .where('id', '=', batchId)
      .where('status', '=', 'in_progress')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      const b = await this.find(batchId);
      if (!b || b.status === 'ended') return false;
    }
    await this.endOpen(batchId, ['pending'], 'canceled', now);
    return true;
  }

  /** Ends the batch's items in `states` with a result of their own (`canceled`, `expired`). */
  async endOpen(batchId: string, states: readonly ('pending' | 'processing')[], state: 'canceled' | 'expired', now: number): Promise<number> {
    const r = await this.db
      .updateTable('batch_items')
      .set({ state, result: resultText({ type: state }), ended_at: now })
      .where('batch_id', '=', batchId)
      .where('state', 'in', states)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Ends the batch when no item is left to run. True when this call ended it. */
  async endIfDone(batchId: string, now: number): Promise<boolean> {
    const left = await this.db
      .selectFrom('batch_items')
      .select('idx')
      .where('batch_id', '=', batchId)
      .where('state', 'in', OPEN_STATES)
      .limit(1)
      .executeTakeFirst();
    if (left) return false;
    const r = await this.db
      .updateTable('batches')
      .set({ status: 'ended', ended_at: now })
      .where('id', '=', batchId)
      .where('status', 'in', ['in_progress', 'canceling'])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Batches that have items to run (or to end): the runner's resume list, oldest first. */
  async runnable(): Promise<BatchRow[]> {
    const rows = await this.db.selectFrom('batches').selectAll().where('status', 'in', ['in_progress', 'canceling']).orderBy('created_at').execute();
    return rows.map(toRow);
  }

  /** Batches past their `expires_at` that have not ended. */
  async overdue(now: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('batches')
      .select('id')
      .where('status', 'in', ['in_progress', 'canceling'])
      .where('expires_at', '<', now)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Deletes batches created before `cutoff`, and staged ones abandoned before `stagedCutoff`. Returns how many. */
  async deleteOld(cutoff: number, stagedCutoff: number): Promise<number> {
    const old = await this.db
      .selectFrom('batches')
      .select('id')
      .where((eb) => eb.or([eb('created_at', '<', cutoff), eb.and([eb('status', '=', 'validating'), eb('created_at', '<', stagedCutoff)])]))
      .limit(100)
      .execute();
    for (const { id } of old) {
      await this.db.deleteFrom('batch_items').where('batch_id', '=', id).execute();
      await this.db.deleteFrom('batch_idempotency').where('batch_id', '=', id).execute();
      await this.db.deleteFrom('batches').where('id', '=', id).execute();
    }
    return old.length;
  }

  /** Items of [from, to) in input order (the results stream's chunk). */
  async items(batchId: string, from: number, to: number): Promise<StoredItem[]> {
    const rows = await this.db
      .selectFrom('batch_items')
      .select(['idx', 'custom_id', 'state', 'result'])
      .where('batch_id', '=', batchId)
      .where('idx', '>=', from)
      .where('idx', '<', to)
      .orderBy('idx')
      .execute();
    return rows.map((r) => ({ ...r, idx: Number(r.idx) }));
  }

  /**
   * Takes or renews the lease `name` for `ttlMs` when it is free, expired or already `holder`'s:
   * one holder at a time across every process on the database. True when `holder` holds it now.
   */
  async lease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const r = await this.db
      .insertInto('batch_leases')
      .values({ name, holder, until: now + ttlMs })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder, until: now + ttlMs })
          .where((eb) => eb.or([eb('batch_leases.until', '<', now), eb('batch_leases.holder', '=', holder)])),
      )
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }
}

function open(r: { idx: number; custom_id: string | null; request: string | null }): OpenItem {
  return { idx: Number(r.idx), custom_id: r.custom_id, request: r.request ?? 'null' };
}
