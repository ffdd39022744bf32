import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../common/errors/api-error.js';
import type { AppConfig } from '../config/app-config.js';
import { MemoryIdempotencyRecords } from './idempotency-records.js';
import { Fingerprint, IdempotencyStore, replayResults, ResultRecorder } from './idempotency.store.js';

const MAX_RECORD = 4096;
const LEASE = 3000;
const config = { batch: { idempotencyTtlSeconds: 60, idempotencyMaxRecordBytes: MAX_RECORD, idempotencyLeaseMs: LEASE } } as AppConfig;

async function results(items: unknown[]): Promise<string> {
  const recorder = new ResultRecorder();
  for (const item of items) recorder.add(item);
  return (await recorder.finish())!;
}

async function errorOf(p: Promise<unknown>): Promise<ApiError | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}

const statusOf = async (p: Promise<unknown>) => (await errorOf(p))?.getStatus();

describe(IdempotencyStore.name, () => {
  let sut: IdempotencyStore;
  let records: MemoryIdempotencyRecords;
  const withBudget = (maxBytes: number) => {
    // The records read the faked clock, so a lease runs out as the fake timers advance.
    records = new MemoryIdempotencyRecords({ maxBytes, ttlMs: 60_000, leaseMs: LEASE, now: () => Date.now() });
    sut = new IdempotencyStore(records, config);
  };
  beforeEach(() => {
    vi.useFakeTimers();
    withBudget(1024 * 1024);
  });
  afterEach(() => vi.useRealTimers());

  it('claims a new key, then answers 409 while it runs', async () => {
    expect(await sut.claim('k', 'fp')).toEqual({ kind: 'new' });
    expect(await statusOf(sut.claim('k', 'fp'))).toBe(409);
  });

  it('renews the lease of a running key while it runs, and lets it run out once the process stops renewing', async () => {
    expect(await sut.claim('k', 'fp')).toEqual({ kind: 'new' });
    await vi.advanceTimersByTimeAsync(LEASE * 5);
    expect(await records.claim('k', 1, 'another process')).toEqual({ kind: 'exists', record: { state: 'running' } });
    // A process that stops (its timers gone) renews nothing more: another takes the key after the lease.
    sut.onApplicationShutdown();
    await vi.advanceTimersByTimeAsync(LEASE + 1);
    expect(await records.claim('k', 1, 'another process')).toEqual({ kind: 'claimed' });
    // The first run's late finish does not overwrite the run that holds the key now.
    await sut.complete('k', 'fp', null);
    expect(await records.claim('k', 1, 'a third')).toEqual({ kind: 'exists', record: { state: 'running' } });
  });

  it('answers 409 to two concurrent claims of one key, whatever the timing of the store', async () => {
    const outcomes = await Promise.allSettled([sut.claim('k', 'fp'), sut.claim('k', 'fp')]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('replays a finished run for the same payload and answers 422 for another', async () => {
    await sut.claim('k', 'fp');
    const stored = await results([{ a: 1 }, { b: 2 }]);
    await sut.complete('k', 'fp', stored);
    const claim = await sut.claim('k', 'fp');
    expect(claim).toEqual({ kind: 'finished', fingerprint: 'fp', results: stored });
    const replayed: unknown[] = [];
    for await (const item of replayResults(stored)) replayed.push(item);
    expect(replayed).toEqual([{ a: 1 }, { b: 2 }]);
    expect(await statusOf(sut.claim('k', 'other'))).toBe(422);
  });

  it('gives a key back when its run did not finish', async () => {
    await sut.claim('k', 'fp');
    await sut.release('k');
    expect(await sut.claim('k', 'fp')).toEqual({ kind: 'new' });
  });

  it('forgets a finished key after the configured time', async () => {
    await sut.claim('k', 'fp');
    await sut.complete('k', 'fp', await results([{ a: 1 }]));
    vi.advanceTimersByTime(59_000);
    expect((await sut.claim('k', 'fp')).kind).toBe('finished');
    vi.advanceTimersByTime(2_000);
    expect(await sut.claim('k', 'other')).toEqual({ kind: 'new' });
  });

  it('keeps only the fingerprint of a run whose results are over the per-record cap: 409 for the same body, 422 for another', async () => {
    await sut.claim('k', 'fp');
    await sut.complete('k', 'fp', 'x'.repeat(MAX_RECORD));
    const same = await errorOf(sut.claim('k', 'fp'));
    expect(same?.getStatus()).toBe(409);
    expect(same?.message).toMatch(/results were over the per-record limit/);
    expect(await statusOf(sut.claim('k', 'other'))).toBe(422);
    expect((await records.usage()).bytes).toBeLessThan(200);
  });

  it('answers 503 with Retry-After when no record fits, and pushes no live record out', async () => {
    // Room for two reservations of MAX_RECORD bytes.
    withBudget(2 * MAX_RECORD + 400);
    await sut.claim('a', 'fp');
    await sut.claim('b', 'fp');
    const full = await errorOf(sut.claim('c', 'fp'));
    expect(full?.getStatus()).toBe(503);
    expect(full?.code).toBe('idempotency_unavailable');
    expect(Number(full?.headers?.['Retry-After'])).toBeGreaterThan(0);
    expect(await statusOf(sut.claim('a', 'fp'))).toBe(409);
    expect(await statusOf(sut.claim('b', 'fp'))).toBe(409);
    // A finished record gives back what its reservation held beyond its size.
    await sut.complete('a', 'fp', await results([{ a: 1 }]));
    expect(await sut.claim('c', 'fp')).toEqual({ kind: 'new' });
    expect((await sut.claim('a', 'fp')).kind).toBe('finished');
  });

  it('answers 503 when the store cannot be reached', async () => {
    const broken = new MemoryIdempotencyRecords({ maxBytes: 1024, ttlMs: 1000 });
    broken.claim = () => Promise.reject(new Error('connection refused'));
    const err = await errorOf(new IdempotencyStore(broken, config).claim('k'));
    expect([err?.getStatus(), err?.code]).toEqual([503, 'idempotency_unavailable']);
    expect(err?.message).not.toContain('refused');
  });

  it('accepts only short visible-ASCII keys', () => {
    expect(IdempotencyStore.validKey('order-42:retry')).toBe('order-42:retry');
    expect(IdempotencyStore.validKey(undefined)).toBeUndefined();
    for (const bad of ['', 'has space', 'x'.repeat(256), 'é']) expect(() => IdempotencyStore.validKey(bad)).toThrow(ApiError);
  });
});

describe(ResultRecorder.name, () => {
  it('gives null and holds nothing once the results pass its cap', async () => {
    const sut = new ResultRecorder(2048);
    // Random bytes do not compress: well past 2 KB gzipped.
    for (let i = 0; i < 100; i++) sut.add({ i, text: randomBytes(100).toString('hex') });
    expect(await sut.finish()).toBeNull();
    expect(sut.overflowed).toBe(true);
  });

  it('gives the results when they fit', async () => {
    const sut = new ResultRecorder(2048);
    sut.add({ a: 1 });
    const stored = (await sut.finish())!;
    expect(stored.length).toBeLessThanOrEqual(2048);
    const replayed: unknown[] = [];
    for await (const item of replayResults(stored)) replayed.push(item);
    expect(replayed).toEqual([{ a: 1 }]);
  });
});

describe(Fingerprint.name, () => {
  it('hashes pieces as the whole', () => {
    expect(new Fingerprint().update('ab').update('c').digest()).toBe(Fingerprint.of('abc'));
    expect(Fingerprint.of('abc')).not.toBe(Fingerprint.of('abd'));
  });
});
