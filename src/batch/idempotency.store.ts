import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { createGzip, gunzip } from 'node:zlib';
import { ApiError } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';

const gunzipAsync = promisify(gunzip);

/** What the cache holds under an idempotency key. */
type IdempotencyRecord =
  | { state: 'running' }
  /** `results`: base64 of the gzipped NDJSON of every item, in the order sent. */
  | { state: 'done'; fingerprint: string; results: string };

/** The outcome of claiming a key: run the batch, or what a previous run left. */
export type IdempotencyClaim =
  | { kind: 'new' }
  | { kind: 'finished'; fingerprint: string; results: string };

/** `Idempotency-Key` (IETF draft): a short opaque string of visible ASCII. */
const VALID_KEY = /^[\x21-\x7e]{1,255}$/;

/** SHA-256 of the request payload, fed in pieces (an NDJSON upload is hashed as it streams). */
export class Fingerprint {
  private readonly hash = createHash('sha256');
  update(data: string | Buffer): this {
    this.hash.update(data);
    return this;
  }
  digest(): string {
    return this.hash.digest('base64url');
  }
  static of(data: string | Buffer): string {
    return new Fingerprint().update(data).digest();
  }
}

/**
 * Collects a batch's results as they are sent, gzipped on the way, so a replay can send them
 * again. Only the compressed bytes are held (captions compress well), not the items.
 */
export class ResultRecorder {
  private readonly gzip = createGzip({ level: 6 });
  private readonly out: Buffer[] = [];
  private readonly ended: Promise<void>;

  constructor() {
    this.gzip.on('data', (c: Buffer) => this.out.push(c));
    this.ended = new Promise((resolve, reject) => {
      this.gzip.on('end', resolve);
      this.gzip.on('error', reject);
    });
  }

  add(item: unknown): void {
    this.gzip.write(`${JSON.stringify(item)}\n`);
  }

  async finish(): Promise<string> {
    this.gzip.end();
    await this.ended;
    return Buffer.concat(this.out).toString('base64');
  }

  /** Drops what was collected (the batch did not finish). */
  discard(): void {
    this.gzip.destroy();
    this.out.length = 0;
  }
}

/** Reads stored results back, item by item. */
export async function* replayResults(results: string): AsyncGenerator<unknown> {
  const text = (await gunzipAsync(Buffer.from(results, 'base64'))).toString('utf8');
  let start = 0;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
    yield JSON.parse(text.slice(start, nl)) as unknown;
    start = nl + 1;
  }
}

/**
 * Idempotency keys for batches (IETF `Idempotency-Key` draft), in the keyed cache (cache-manager,
 * TTLs in ms) so a shared Redis tier makes them hold across instances:
 * - a repeat of a finished batch with the same payload replays the stored results;
 * - the same key with another payload is a 422;
 * - a repeat while the first still runs is a 409.
 * Keys expire `BATCH_IDEMPOTENCY_TTL_S` after the batch finished. A batch that does not finish
 * (client gone, failure) releases its key so it can be retried.
 */
@Injectable()
export class IdempotencyStore {
  /** Claims made by this process: cache-manager has no atomic set-if-absent, so two concurrent
   * requests to one instance are told apart here before any await. */
  private readonly local = new Set<string>();

  constructor(
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    private readonly config: AppConfig,
  ) {}

  /** Checks the header value; 422 naming the header when it is not a valid key. */
  static validKey(key: string | undefined): string | undefined {
    if (key === undefined) return undefined;
    if (!VALID_KEY.test(key)) throw ApiError.invalid('Idempotency-Key', 'must be 1-255 visible ASCII characters');
    return key;
  }

  private cacheKey(key: string): string {
    return `batch:idempotency:${key}`;
  }

  /**
   * Claims `key` for a new run, or returns what a finished run stored. When `fingerprint` is
   * known (JSON bodies) a finished run is checked against it here; an NDJSON upload is hashed
   * while it streams, so its caller checks with {@link IdempotencyStore.match} instead.
   * @throws ApiError 409 `conflict` while a run with this key is in progress; 422 on a mismatch.
   */
  async claim(key: string, fingerprint?: string): Promise<IdempotencyClaim> {
    if (this.local.has(key)) throw this.inProgress();
    this.local.add(key);
    try {
      const record = await this.cache.get<IdempotencyRecord>(this.cacheKey(key));
      if (record?.state === 'running') throw this.inProgress();
      if (record?.state === 'done') {
        if (fingerprint !== undefined) IdempotencyStore.match(record.fingerprint, fingerprint);
        this.local.delete(key);
        return { kind: 'finished', fingerprint: record.fingerprint, results: record.results };
      }
      await this.cache.set<IdempotencyRecord>(this.cacheKey(key), { state: 'running' }, this.ttlMs());
      return { kind: 'new' };
    } catch (err) {
      this.local.delete(key);
      throw err;
    }
  }

  /** 422 when a repeat's payload differs from the first one's. */
  static match(stored: string, fingerprint: string): void {
    if (stored !== fingerprint) {
      throw new ApiError(
        422,
        'validation_failed',
        'Idempotency-Key was already used with a different request body',
        [{ field: 'Idempotency-Key', message: 'was already used with a different request body' }],
      );
    }
  }

  /** Stores a finished run's results under its claimed key. */
  async complete(key: string, fingerprint: string, results: string): Promise<void> {
    try {
      await this.cache.set<IdempotencyRecord>(this.cacheKey(key), { state: 'done', fingerprint, results }, this.ttlMs());
    } finally {
      this.local.delete(key);
    }
  }

  /** Gives a claimed key back (the run did not finish), so the client can retry. */
  async release(key: string): Promise<void> {
    try {
      await this.cache.del(this.cacheKey(key));
    } finally {
      this.local.delete(key);
    }
  }

  private ttlMs(): number {
    return this.config.batch.idempotencyTtlSeconds * 1000;
  }

  private inProgress(): ApiError {
    return new ApiError(409, 'conflict', 'A batch with this Idempotency-Key is still running');
  }
}
