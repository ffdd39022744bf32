import { LRUCache } from 'lru-cache';

export interface TokenBucketsOptions {
  /** Units a full bucket holds: the burst a client may spend at once. */
  capacity: number;
  /** Milliseconds an empty bucket takes to fill: `capacity` units per window on average. */
  windowMs: number;
  /** Clients tracked at most; the least recently seen is forgotten first (its bucket counts as full). */
  maxClients?: number;
  /** Clock in ms; `Date.now` by default. */
  now?: () => number;
}

/** The outcome of a charge. */
export interface Charge {
  ok: boolean;
  /** Whole units left after the charge (0 when in debt). */
  remaining: number;
  /** When refused: milliseconds until the charge would pass. */
  retryAfterMs: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

/**
 * What a charge tells its caller, from the bucket's level before it (`tokens`) and whether it passed
 * (then `left` is the level after it). Shared by the in-process and the Redis buckets.
 */
export function chargeOutcome(capacity: number, windowMs: number, tokens: number, need: number, left: number | null): Charge {
  const ratePerMs = capacity / windowMs;
  const toFull = (level: number) => Math.max(0, Math.ceil((capacity - level) / ratePerMs));
  if (left === null) {
    return { ok: false, remaining: Math.max(0, Math.floor(tokens)), retryAfterMs: Math.ceil((need - tokens) / ratePerMs), resetMs: toFull(tokens) };
  }
  return { ok: true, remaining: Math.max(0, Math.floor(left)), retryAfterMs: 0, resetMs: toFull(left) };
}

/** A store of token buckets, in process or shared: what the rate limiter charges. */
export interface BucketStore {
  readonly capacity: number;
  /**
   * Charges `cost` to `client` when its bucket holds `need` (see {@link TokenBuckets.charge}). The
   * in-process store answers at once (no promise, so a request it admits goes on in the same tick);
   * a shared one answers with a promise.
   */
  charge(client: string, cost: number, need?: number): Charge | Promise<Charge>;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One token bucket per client, refilled continuously (`capacity` units per `windowMs`). A charge
 * passes when the bucket holds what it needs: its cost, or, for a cost larger than the whole
 * bucket, a full bucket; it then takes its whole cost, so a large request leaves the bucket in
 * debt and the client waits until it is repaid. Over time no client gets more than `capacity`
 * units per window (plus one burst). A refused charge takes nothing. Plain TypeScript.
 */
export class TokenBuckets {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly ratePerMs: number;
  private readonly now: () => number;

  constructor(private readonly options: TokenBucketsOptions) {
    if (!(options.capacity >= 1)) throw new RangeError('capacity must be >= 1');
    if (!(options.windowMs > 0)) throw new RangeError('windowMs must be > 0');
    this.ratePerMs = options.capacity / options.windowMs;
    this.now = options.now ?? (() => Date.now());
    // A bucket left alone until it is full again is the same as no bucket: each entry lives that long.
    this.buckets = new LRUCache({ max: options.maxClients ?? 100_000, ttlAutopurge: false, perf: { now: () => this.now() } });
  }

  get capacity(): number {
    return this.options.capacity;
  }

  /**
   * Charges `cost` units to `client` when its bucket holds `need` (default: the cost, at most a
   * full bucket). `need` 0 always passes (a charge for something that already happened).
   */
  charge(client: string, cost: number, need = Math.min(cost, this.options.capacity)): Charge {
    const now = this.now();
    const tokens = this.level(client, now);
    const { capacity, windowMs } = this.options;
    if (need > 0 && tokens < need) return chargeOutcome(capacity, windowMs, tokens, need, null);
    const left = tokens - cost;
    this.store(client, left, now);
    return chargeOutcome(capacity, windowMs, tokens, need, left);
  }

  /** The units `client` holds now (negative while in debt). */
  level(client: string, now = this.now()): number {
    const b = this.buckets.get(client);
    if (!b) return this.options.capacity;
    return Math.min(this.options.capacity, b.tokens + (now - b.at) * this.ratePerMs);
  }

  private store(client: string, tokens: number, now: number): void {
    const ttl = this.toFull(tokens);
    if (ttl <= 0) this.buckets.delete(client);
    else this.buckets.set(client, { tokens, at: now }, { ttl });
  }

  private toFull(tokens: number): number {
    return Math.max(0, Math.ceil((this.options.capacity - tokens) / this.ratePerMs));
  }
}

/** Requests in flight per client, up to a cap. */
export class ConcurrencyLimit {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a slot for `client`; returns its release (idempotent), or undefined when at the cap. */
  acquire(client: string): (() => void) | undefined {
    const n = this.inFlight.get(client) ?? 0;
    if (n >= this.max) return undefined;
    this.inFlight.set(client, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(client) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(client);
      else this.inFlight.set(client, left);
    };
  }

  count(client: string): number {
    return this.inFlight.get(client) ?? 0;
  }
}
