import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IdempotencyRecords, MemoryIdempotencyRecords, recordBytes, type FinishedRecord, type RecordsOptions } from '../src/batch/idempotency-records.js';
import { DatabaseIdempotencyRecords } from '../src/batch/idempotency-records.database.js';
import { RedisIdempotencyRecords } from '../src/batch/idempotency-records.redis.js';
import type { KyselyHistoryRepository } from '../src/history/kysely-history.repository.js';
import { enginesUnderTest } from './support/history-databases.js';

const redisUrl = process.env.TEST_REDIS_URL;
if (!redisUrl) console.warn('\n*** SKIPPED: idempotency records in Redis (set TEST_REDIS_URL to run them) ***\n');

const TTL = 60_000;
const done = (fingerprint: string, results: string | null = 'r'.repeat(100)): FinishedRecord => ({ state: 'done', fingerprint, results });

/** The same rules for every store; `clock.now` drives expiry. */
function contract(name: string, make: (options: RecordsOptions) => Promise<IdempotencyRecords>) {
  describe(name, () => {
    const clock = { now: 1_000_000 };
    let sut: IdempotencyRecords;
    const open = async (maxBytes: number) => {
      sut = await make({ maxBytes, ttlMs: TTL, now: () => clock.now });
      return sut;
    };
    afterEach(async () => sut?.close());

    it('claims once, returns what is stored afterwards, and gives a released key back', async () => {
      await open(10_000);
      expect(await sut.claim('k', 1000, 'owner')).toEqual({ kind: 'claimed' });
      expect(await sut.claim('k', 1000, 'owner')).toEqual({ kind: 'exists', record: { state: 'running' } });
      await sut.complete('k', 'owner', done('fp'), 300);
      expect(await sut.claim('k', 1000, 'owner')).toEqual({ kind: 'exists', record: done('fp') });
      // A run that did not finish gives its key back; only its owner can.
      expect(await sut.claim('r', 1000, 'owner')).toEqual({ kind: 'claimed' });
      await sut.release('r', 'someone else');
      expect((await sut.claim('r', 1000, 'owner')).kind).toBe('exists');
      await sut.release('r', 'owner');
      expect(await sut.claim('r', 1000, 'owner')).toEqual({ kind: 'claimed' });
    });

    it('stays within its byte budget: a claim that does not fit is refused and no record is pushed out', async () => {
      await open(2500);
      expect((await sut.claim('a', 1000, 'owner')).kind).toBe('claimed');
      expect((await sut.claim('b', 1000, 'owner')).kind).toBe('claimed');
      const full = await sut.claim('c', 1000, 'owner');
      expect(full.kind).toBe('full');
      expect((await sut.usage()).bytes).toBe(2000);
      // A finished record is charged its size, not its reservation.
      await sut.complete('a', 'owner', done('fp-a'), 200);
      expect((await sut.usage()).bytes).toBe(1200);
      expect((await sut.claim('c', 1000, 'owner')).kind).toBe('claimed');
      expect((await sut.claim('d', 1000, 'owner')).kind).toBe('full');
      const usage = await sut.usage();
      expect(usage.bytes).toBeLessThanOrEqual(usage.maxBytes);
      expect(await sut.claim('a', 1000, 'owner')).toEqual({ kind: 'exists', record: done('fp-a') });
      expect((await sut.claim('b', 1000, 'owner')).kind).toBe('exists');
    });

    it('says when the next finished record expires when full', async () => {
      await open(1500);
      await sut.claim('a', 1000, 'owner');
      await sut.complete('a', 'owner', done('fp'), 1000);
      clock.now += 20_000;
      const full = await sut.claim('b', 1000, 'owner');
      expect(full).toEqual({ kind: 'full', retryAfterMs: TTL - 20_000 });
    });

    it('frees a finished record\'s bytes once its TTL is over', async () => {
      await open(1500);
      await sut.claim('a', 1000, 'owner');
      await sut.complete('a', 'owner', done('fp'), 1000);
      clock.now += TTL - 1;
      expect((await sut.usage()).bytes).toBe(1000);
      clock.now += 2;
      expect((await sut.usage()).bytes).toBe(0);
    });

    it('charges a record by its key, fingerprint and results', () => {
      const small = recordBytes('k', done('fp', null));
      expect(recordBytes('k', done('fp', 'x'.repeat(1000)))).toBe(small + 1000);
      expect(recordBytes('kk', done('fp', null))).toBe(small + 1);
    });
  });
}

contract(MemoryIdempotencyRecords.name, async (options) => new MemoryIdempotencyRecords(options));

/** The database store on a fresh, migrated history database of each engine. */
for (const engine of enginesUnderTest('idempotency records in the database')) {
  const opened: Array<{ dispose(): Promise<void>; repo: KyselyHistoryRepository }> = [];
  // Every schema stays until the end: several migrated schemas side by side on one database.
  afterAll(async () => {
    for (const o of opened) {
      await o.repo.onModuleDestroy();
      await o.dispose();
    }
  });
  const make = async (options: RecordsOptions) => {
    const o = await engine.open();
    opened.push(o);
    return new DatabaseIdempotencyRecords(o.repo.handle, options);
  };
  contract(`${DatabaseIdempotencyRecords.name} (${engine.name})`, make);
  leases(`${DatabaseIdempotencyRecords.name} (${engine.name})`, make);
}

/** A running record's lease, on the real clock (Redis expires records on its own). */
function leases(name: string, make: (options: RecordsOptions) => Promise<IdempotencyRecords>) {
  it(`${name}: a running key whose lease ran out is taken over, and its old owner can neither complete nor release it`, async () => {
    // A lease long enough that the steps below, done within one lease, never see it run out on a
    // busy machine (four round trips after the renewal), and short enough to wait out.
    const sut = await make({ maxBytes: 10_000, ttlMs: TTL, leaseMs: 2_000 });
    try {
      expect(await sut.claim('leased', 100, 'dead')).toEqual({ kind: 'claimed' });
      expect(await sut.claim('leased', 100, 'next')).toEqual({ kind: 'exists', record: { state: 'running' } });
      // Nobody renews: the lease runs out.
      await expect.poll(async () => (await sut.claim('leased', 100, 'next')).kind, { timeout: 10_000, interval: 100 }).toBe('claimed');
      expect(await sut.renew('leased', 'dead')).toBe(false);
      expect(await sut.renew('leased', 'next')).toBe(true);
      await sut.release('leased', 'dead');
      await sut.complete('leased', 'dead', done('stale'), 100);
      expect(await sut.claim('leased', 100, 'third')).toEqual({ kind: 'exists', record: { state: 'running' } });
      await sut.complete('leased', 'next', done('fresh'), 100);
      expect(await sut.claim('leased', 100, 'third')).toEqual({ kind: 'exists', record: done('fresh') });
    } finally {
      await sut.close();
    }
  });
}

describe(`${MemoryIdempotencyRecords.name}: expiry`, () => {
  it('drops a finished record after its TTL, never before, whatever else is stored meanwhile', async () => {
    const clock = { now: 0 };
    const sut = new MemoryIdempotencyRecords({ maxBytes: 10 * 1024 * 1024, ttlMs: TTL, now: () => clock.now });
    await sut.claim('kept', 100, 'owner');
    await sut.complete('kept', 'owner', done('fp'), 100);
    for (let i = 0; i < 2000; i++) {
      await sut.claim(`other-${i}`, 100, 'owner');
      await sut.complete(`other-${i}`, 'owner', done('fp'), 100);
    }
    clock.now = TTL - 1;
    expect((await sut.claim('kept', 100, 'owner')).kind).toBe('exists');
    clock.now = TTL;
    expect((await sut.claim('kept', 100, 'owner')).kind).toBe('claimed');
  });
});

describe.skipIf(!redisUrl)(RedisIdempotencyRecords.name, () => {
  const prefixes: string[] = [];
  const clients: Redis[] = [];
  const connect = (prefix: string, options: RecordsOptions) => {
    const client = new Redis(redisUrl!);
    clients.push(client);
    return new RedisIdempotencyRecords(client, { ...options, prefix }).start();
  };
  const make = async (options: RecordsOptions) => {
    // Each store on its own keys: other runs may share this Redis.
    const prefix = `{test-idempotency-${randomUUID()}}`;
    prefixes.push(prefix);
    return connect(prefix, options);
  };
  afterAll(async () => {
    const client = new Redis(redisUrl!);
    for (const prefix of prefixes) {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length) await client.del(...keys);
    }
    await Promise.all([client, ...clients].map((c) => c.quit()));
  });

  contract('(contract)', make);
  leases('(lease)', make);

  it('is shared by two instances: a key claimed on one exists on the other, within one budget', async () => {
    const prefix = `{test-idempotency-${randomUUID()}}`;
    prefixes.push(prefix);
    const options = { maxBytes: 1500, ttlMs: TTL, prefix };
    const a = connect(prefix, options);
    const b = connect(prefix, options);
    try {
      expect((await a.claim('k', 1000, 'owner')).kind).toBe('claimed');
      expect(await b.claim('k', 1000, 'owner')).toEqual({ kind: 'exists', record: { state: 'running' } });
      expect((await b.claim('other', 1000, 'owner')).kind).toBe('full');
      const outcomes = await Promise.all([a.claim('race', 100, 'owner'), b.claim('race', 100, 'owner')]);
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['claimed', 'exists']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
