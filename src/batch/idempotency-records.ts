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
  /** Clock in ms; `Date.now` by default. */
  now?: () => number;
}

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
 * instead of pushing out a live record.
 */
export abstract class IdempotencyRecords {
  /**
   * Creates a running record for `key` charged `reserveBytes`, unless a record exists (then it is
   * returned) or the budget has no room (`full`). Atomic: of two concurrent claims of one key, one
   * wins.
   */
  abstract claim(key: string, reserveBytes: number): Promise<RecordClaim>;
  /** Replaces `key`'s reservation with the finished record, kept for the TTL and charged `bytes`. */
  abstract complete(key: string, record: FinishedRecord, bytes: number): Promise<void>;
  /** Removes `key` (its run did not finish) and gives its bytes back. */
  abstract release(key: string): Promise<void>;
  abstract usage(): Promise<RecordsUsage>;
  abstract close(): Promise<void>;
}

interface Entry {
  record: IdempotencyRecord;
  bytes: number;
  /** Infinity while running: a run in this process ends by `complete` or `release`. */
  expiresAt: number;
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

  async claim(key: string, reserveBytes: number): Promise<RecordClaim> {
    const now = this.now();
    this.expire(now);
    const existing = this.entries.get(key);
    if (existing) return { kind: 'exists', record: existing.record };
    if (this.used + reserveBytes > this.options.maxBytes) return { kind: 'full', retryAfterMs: this.nextExpiry(now) };
    this.entries.set(key, { record: { state: 'running' }, bytes: reserveBytes, expiresAt: Infinity });
    this.used += reserveBytes;
    return { kind: 'claimed' };
  }

  async complete(key: string, record: FinishedRecord, bytes: number): Promise<void> {
    this.remove(key);
    this.entries.set(key, { record, bytes, expiresAt: this.now() + this.options.ttlMs });
    this.used += bytes;
  }

  async release(key: string): Promise<void> {
    this.remove(key);
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
