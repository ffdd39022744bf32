/**
 * What is kept under an idempotency key: a run in progress, or a finished one with its results
 * (base64 of the gzipped NDJSON of every item) or, when they were too large to keep, only the
 * fingerprint of its request, so a repeat with another body is still told apart.
 */
export type IdempotencyRecord =
  | { state: 'running' }
  | { state: 'done'; fingerprint: string; results: string | null };

export type FinishedRecord = Extract<IdempotencyRecord, { state: 'done' }>;

/** The outcome of claiming a key in the store. */
export type RecordClaim =
  | { kind: 'claimed' }
  | { kind: 'exists'; record: IdempotencyRecord }
  /** No room for the reservation; `retryAfterMs` is when the next record expires (a guess when none is due). */
  | { kind: 'full'; retryAfterMs: number };

export interface RecordsUsage {
  /** Bytes charged now: finished records at their size, running ones at their reservation. */
  bytes: number;
  records: number;
  maxBytes: number;
}

export interface RecordsOptions {
  /** The budget: bytes charged never go past it. */
  maxBytes: number;
  /** How long a finished record is kept. */
  ttlMs: number;
  /**
   * How long a running record holds its key without a renewal: the run renews it while it goes
   * on, so the key of a run whose process died is free again this long after (not after the TTL).
   * 5 s by default.
   */
  leaseMs?: number;
  /** Clock in ms; `Date.now` by default. */
  now?: () => number;
}

/** A running record's lease unless the options say otherwise. */
export const DEFAULT_LEASE_MS = 5_000;

/** Bytes a record is charged beyond its key and strings: the fields and their framing. */
const RECORD_OVERHEAD_BYTES = 64;
/** Retry-After when the store is full of runs still in progress (none is due to expire). */
export const FULL_RETRY_GUESS_MS = 60_000;

/** What a finished record is charged against the budget (base64 and fingerprints are ASCII). */
export function recordBytes(key: string, record: FinishedRecord): number {
  return Buffer.byteLength(key) + record.fingerprint.length + (record.results?.length ?? 0) + RECORD_OVERHEAD_BYTES;
}

/**
 * The idempotency records' own store (the abstract class is also the DI token). Unlike a cache it
 * never evicts: a record leaves when its TTL is over (finished runs), or when its run gives it
 * back. Space is a byte budget: a claim reserves the most a record may take, so a claim that
 * succeeded can always be completed, and a claim that would pass the budget is refused (`full`)
 * instead of pushing out a live record. A running record belongs to its `owner` (a token the
 * claimer makes up) and holds its key for a lease the owner renews; only the owner may renew,
 * complete or release it, so a run that lost its key (its lease ran out) cannot overwrite the run
 * that took the key over.
 */
export abstract class IdempotencyRecords {
  /**
   * Creates a running record for `key` owned by `owner`, charged `reserveBytes`, unless a record
   * exists (then it is returned: a running one whose lease ran out does not count) or the budget
   * has no room (`full`). Atomic: of two concurrent claims of one key, across processes, one wins.
   */
  abstract claim(key: string, reserveBytes: number, owner: string): Promise<RecordClaim>;
  /** Extends `owner`'s lease on `key`; false when the key is no longer its own. */
  abstract renew(key: string, owner: string): Promise<boolean>;
  /** Replaces `owner`'s reservation of `key` with the finished record, kept for the TTL and charged `bytes`. */
  abstract complete(key: string, owner: string, record: FinishedRecord, bytes: number): Promise<void>;
  /** Removes `owner`'s running record of `key` (its run did not finish) and gives its bytes back. */
  abstract release(key: string, owner: string): Promise<void>;
  abstract usage(): Promise<RecordsUsage>;
  abstract close(): Promise<void>;
}

interface Entry {
  record: IdempotencyRecord;
  bytes: number;
  /** Infinity while running (the lease is `leaseUntil`). */
  expiresAt: number;
  owner?: string;
  leaseUntil?: number;
}

/**
 * The in-process store. Finished records are re-inserted when completed, so with one TTL for all
 * they sit in the map in expiry order (running ones are skipped over): expiring is a walk from the
 * front that stops at the first record still fresh.
 */
export class MemoryIdempotencyRecords extends IdempotencyRecords {
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  private readonly now: () => number;

  constructor(private readonly options: RecordsOptions) {
    super();
    if (!(options.maxBytes > 0)) throw new RangeError('maxBytes must be > 0');
    if (!(options.ttlMs > 0)) throw new RangeError('ttlMs must be > 0');
    this.now = options.now ?? (() => Date.now());
  }

  async claim(key: string, reserveBytes: number, owner: string): Promise<RecordClaim> {
    const now = this.now();
    this.expire(now);
    const existing = this.entries.get(key);
    if (existing && (existing.leaseUntil ?? Infinity) > now) return { kind: 'exists', record: existing.record };
    if (existing) this.remove(key);
    if (this.used + reserveBytes > this.options.maxBytes) return { kind: 'full', retryAfterMs: this.nextExpiry(now) };
    this.entries.set(key, { record: { state: 'running' }, bytes: reserveBytes, expiresAt: Infinity, owner, leaseUntil: now + this.leaseMs });
    this.used += reserveBytes;
    return { kind: 'claimed' };
  }

  async renew(key: string, owner: string): Promise<boolean> {
    const entry = this.entries.get(key);
    if (entry?.owner !== owner) return false;
    entry.leaseUntil = this.now() + this.leaseMs;
    return true;
  }

  async complete(key: string, owner: string, record: FinishedRecord, bytes: number): Promise<void> {
    const entry = this.entries.get(key);
    if (entry && entry.owner !== owner) return;
    this.remove(key);
    this.entries.set(key, { record, bytes, expiresAt: this.now() + this.options.ttlMs });
    this.used += bytes;
  }

  async release(key: string, owner: string): Promise<void> {
    if (this.entries.get(key)?.owner === owner) this.remove(key);
  }

  private get leaseMs(): number {
    return this.options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  async usage(): Promise<RecordsUsage> {
    this.expire(this.now());
    return { bytes: this.used, records: this.entries.size, maxBytes: this.options.maxBytes };
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.used = 0;
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.used -= old.bytes;
  }

  private expire(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt === Infinity) continue;
      if (entry.expiresAt > now) return;
      this.remove(key);
    }
  }

  private nextExpiry(now: number): number {
    for (const entry of this.entries.values()) {
      if (entry.expiresAt !== Infinity) return Math.max(1, entry.expiresAt - now);
    }
    return FULL_RETRY_GUESS_MS;
  }
}
