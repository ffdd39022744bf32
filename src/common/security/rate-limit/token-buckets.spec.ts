import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { clientOf } from './rate-limiter.js';
import { ConcurrencyLimit, TokenBuckets } from './token-buckets.js';

describe(TokenBuckets.name, () => {
  const clock = { now: 0 };
  const make = (capacity = 10, windowMs = 60_000) => new TokenBuckets({ capacity, windowMs, now: () => clock.now });

  it('passes charges while the bucket holds them and refuses the next, taking nothing', () => {
    clock.now = 0;
    const sut = make();
    expect(sut.charge('a', 4)).toMatchObject({ ok: true, remaining: 6 });
    expect(sut.charge('a', 6)).toMatchObject({ ok: true, remaining: 0 });
    const refused = sut.charge('a', 3);
    expect(refused).toMatchObject({ ok: false, remaining: 0 });
    // 3 units at 10 a minute.
    expect(refused.retryAfterMs).toBe(18_000);
    expect(sut.level('a')).toBe(0);
    expect(sut.charge('b', 10).ok).toBe(true);
  });

  it('refills continuously, never above its capacity', () => {
    clock.now = 0;
    const sut = make();
    sut.charge('a', 10);
    clock.now = 30_000;
    expect(sut.level('a')).toBe(5);
    clock.now = 600_000;
    expect(sut.level('a')).toBe(10);
  });

  it('admits a cost larger than the bucket only when it is full, and leaves it in debt', () => {
    clock.now = 0;
    const sut = make();
    sut.charge('a', 1);
    expect(sut.charge('a', 25).ok).toBe(false);
    clock.now = 6_000;
    expect(sut.charge('a', 25)).toMatchObject({ ok: true, remaining: 0 });
    expect(sut.level('a')).toBe(-15);
    const next = sut.charge('a', 1);
    expect(next.ok).toBe(false);
    expect(next.retryAfterMs).toBe(96_000);
  });

  it('always passes a charge that needs nothing, for what already happened', () => {
    clock.now = 0;
    const sut = make(3);
    for (let i = 0; i < 5; i++) expect(sut.charge('a', 1, 0).ok).toBe(true);
    expect(sut.level('a')).toBe(-2);
  });
});

describe(ConcurrencyLimit.name, () => {
  it('hands out slots up to the cap, per client; a release counts once', () => {
    const sut = new ConcurrencyLimit(2);
    const one = sut.acquire('a')!;
    sut.acquire('a');
    expect(sut.acquire('a')).toBeUndefined();
    expect(sut.acquire('b')).toBeDefined();
    one();
    one();
    expect(sut.count('a')).toBe(1);
    expect(sut.acquire('a')).toBeDefined();
  });
});

describe(clientOf.name, () => {
  const req = (ip: string) => ({ ip, socket: {} }) as unknown as Request;

  it('counts an IPv6 client by its /64, an IPv4-mapped one by its IPv4 address', () => {
    expect(clientOf(req('2001:db8:0:1:aaaa::1'))).toBe('2001:db8:0:1::/64');
    expect(clientOf(req('2001:db8:0:1:bbbb:cccc:dddd:eeee'))).toBe('2001:db8:0:1::/64');
    expect(clientOf(req('2001:db8::1'))).toBe('2001:db8:0:0::/64');
    expect(clientOf(req('::1'))).toBe('0:0:0:0::/64');
    expect(clientOf(req('::ffff:203.0.113.9'))).toBe('203.0.113.9');
    expect(clientOf(req('203.0.113.9'))).toBe('203.0.113.9');
  });
});
