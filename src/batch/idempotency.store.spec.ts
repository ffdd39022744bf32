import type { Cache } from '@nestjs/cache-manager';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../common/errors/api-error.js';
import type { AppConfig } from '../config/app-config.js';
import { Fingerprint, IdempotencyStore, replayResults, ResultRecorder } from './idempotency.store.js';

const config = { batch: { idempotencyTtlSeconds: 60 } } as AppConfig;

async function results(items: unknown[]): Promise<string> {
  const recorder = new ResultRecorder();
  for (const item of items) recorder.add(item);
  return recorder.finish();
}

async function statusOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof ApiError ? err.getStatus() : -1;
  }
}

describe(IdempotencyStore.name, () => {
  let sut: IdempotencyStore;
  beforeEach(() => {
    vi.useFakeTimers();
    sut = new IdempotencyStore(createCache({ stores: [new Keyv()] }), config);
  });
  afterEach(() => vi.useRealTimers());

  it('claims a new key, then answers 409 while it runs', async () => {
    expect(await sut.claim('k', 'fp')).toEqual({ kind: 'new' });
    expect(await statusOf(sut.claim('k', 'fp'))).toBe(409);
  });

  it('answers 409 to two concurrent claims of one key, whatever the timing of the cache', async () => {
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

  it('accepts only short visible-ASCII keys', () => {
    expect(IdempotencyStore.validKey('order-42:retry')).toBe('order-42:retry');
    expect(IdempotencyStore.validKey(undefined)).toBeUndefined();
    for (const bad of ['', 'has space', 'x'.repeat(256), 'é']) expect(() => IdempotencyStore.validKey(bad)).toThrow(ApiError);
  });
});

describe(Fingerprint.name, () => {
  it('hashes pieces as the whole', () => {
    expect(new Fingerprint().update('ab').update('c').digest()).toBe(Fingerprint.of('abc'));
    expect(Fingerprint.of('abc')).not.toBe(Fingerprint.of('abd'));
  });
});
