import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { createGzip, gunzip } from 'node:zlib';
import { ApiError } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import { idempotencyLeasesLost } from './batch.metrics.js';
import { IdempotencyRecords, recordBytes, type FinishedRecord, type RecordClaim } from './idempotency-records.js';

const gunzipAsync = promisify(gunzip);

/** The outcome of claiming a key: run the batch, or what a previous run left. */
export type IdempotencyClaim =
  | { kind: 'new' }
  /** `results` is null when they were too large to keep: only the fingerprint was. */
  | { kind: 'finished'; fingerprint: string; results: string | null };

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
 * again. Only the compressed bytes are held (captions compress well), not the items, and at most
 * `maxBytes` of them (counted as base64, the form they are stored in): past that the recorder
 * drops what it holds and records nothing more, so a huge batch never holds its results twice.
 */
export class ResultRecorder {
  private readonly gzip = createGzip({ level: 6 });
  private readonly out: Buffer[] = [];
  private readonly ended: Promise<void>;
  private rawBytes = 0;
  private over = false;

  constructor(private readonly maxBytes = Infinity) {
    this.gzip.on('data', (c: Buffer) => {
      if (this.over) return;
      this.rawBytes += c.length;
      if (Math.ceil(this.rawBytes / 3) * 4 > this.maxBytes) this.overflow();
      else this.out.push(c);
    });
    this.ended = new Promise((resolve, reject) => {
      this.gzip.on('end', resolve);
      this.gzip.on('close', resolve);
      this.gzip.on('error', reject);
    });
  }

  /** True once the results passed `maxBytes`: {@link finish} then gives null. */
  get overflowed(): boolean {
    return this.over;
  }

  add(item: unknown): void {
    if (!this.over) this.gzip.write(`${JSON.stringify(item)}\n`);
  }

  /** Base64 of the gzipped NDJSON, or null when it was over `maxBytes`. */
  async finish(): Promise<string | null> {
    if (!this.over) this.gzip.end();
    await this.ended;
    return this.over ? null : Buffer.concat(this.out).toString('base64');
  }

  /** Drops what was collected (the batch did not finish). */
  discard(): void {
    this.gzip.destroy();
    this.out.length = 0;
  }

  private overflow(): void {
    this.over = true;
    this.out.length = 0;
    this.gzip.destroy();
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
 * Idempotency keys for batches (IETF `Idempotency-Key` draft), in their own store
 * ({@link IdempotencyRecords}: in Redis with `REDIS_URL`, else in the service's database; both
 * hold across instances), never evicted before their TTL:
 * - a repeat of a finished batch with the same payload replays the stored results;
 * - the same key with another payload is a 422;
 * - a repeat while the first still runs is a 409;
 * - a repeat of a batch whose results were over the per-record cap (`BATCH_IDEMPOTENCY_MAX_RECORD_KB`)
 *   is a 409 saying so: only its fingerprint was kept, so another payload is still a 422;
 * - when the byte budget (`BATCH_IDEMPOTENCY_MAX_MB`) has no room for one more record, a new key
 *   is a 503 with `Retry-After` (when the next record expires); no live record is ever pushed out.
 * Keys are scoped by the caller (per API key), expire `BATCH_IDEMPOTENCY_TTL_S` after the batch
 * finished, and a batch that does not finish (client gone, failure) gives its key back. A running
 * batch holds its key for a lease (`BATCH_IDEMPOTENCY_LEASE_MS`) it renews while it runs: when its
 * process dies, the key is free again within the lease.
 */
@Injectable()
export class IdempotencyStore implements OnApplicationShutdown {
  private readonly logger = new Logger('IdempotencyStore');
  /** The keys this process' runs hold: each its owner token and the timer renewing its lease. */
  private readonly held = new Map<string, { owner: string; timer: NodeJS.Timeout }>();

  constructor(
    private readonly records: IdempotencyRecords,
    private readonly config: AppConfig,
  ) {}

  /** Stops renewing: the leases of runs cut short by the exit run out by themselves. */
  onApplicationShutdown(): void {
    for (const { timer } of this.held.values()) clearInterval(timer);
    this.held.clear();
  }

  /** Checks the header value; 422 naming the header when it is not a valid key. */
  static validKey(key: string | undefined): string | undefined {
    if (key === undefined) return undefined;
    if (!VALID_KEY.test(key)) throw ApiError.invalid('Idempotency-Key', 'must be 1-255 visible ASCII characters');
    return key;
  }

  /** The most a record may take; a run's results beyond it are not kept. */
  get maxRecordBytes(): number {
    return this.config.batch.idempotencyMaxRecordBytes;
  }

  /**
   * Claims `key` for a new run, or returns what a finished run stored. When `fingerprint` is
   * known (JSON bodies) a finished run is checked against it here; an NDJSON upload is hashed
   * while it streams, so its caller checks with {@link IdempotencyStore.resultsOf} instead.
   * @throws ApiError 409 `conflict` while a run with this key is in progress, or when the finished
   *   run's results were not kept; 422 on a mismatch; 503 `idempotency_unavailable` when the store
   *   is full (with `Retry-After`) or cannot be reached.
   */
  async claim(key: string, fingerprint?: string): Promise<IdempotencyClaim> {
    let claim: RecordClaim;
    const owner = randomUUID();
    try {
      claim = await this.records.claim(key, this.maxRecordBytes, owner);
    } catch (err) {
      throw this.unreachable(err);
    }
    if (claim.kind === 'claimed') {
      this.hold(key, owner);
      return { kind: 'new' };
    }
    if (claim.kind === 'full') {
      throw new ApiError(
        503,
        'idempotency_unavailable',
        'The idempotency store is full: retry after Retry-After seconds, or send the batch without Idempotency-Key',
        undefined,
        { 'Retry-After': String(Math.ceil(claim.retryAfterMs / 1000)) },
      );
    }
    const { record } = claim;
    if (record.state === 'running') throw new ApiError(409, 'conflict', 'A batch with this Idempotency-Key is still running');
    const finished = { kind: 'finished' as const, fingerprint: record.fingerprint, results: record.results };
    if (fingerprint !== undefined) IdempotencyStore.resultsOf(finished, fingerprint);
    return finished;
  }

  /**
   * The stored results of a finished run, for a repeat whose payload hashes to `fingerprint`.
   * @throws ApiError 422 when the payload differs; 409 when the results were too large to keep.
   */
  static resultsOf(finished: Extract<IdempotencyClaim, { kind: 'finished' }>, fingerprint: string): string {
    if (finished.fingerprint !== fingerprint) {
      throw new ApiError(
        422,
        'validation_failed',
        'Idempotency-Key was already used with a different request body',
        [{ field: 'Idempotency-Key', message: 'was already used with a different request body' }],
      );
    }
    if (finished.results === null) {
      throw new ApiError(
        409,
        'conflict',
        'A batch with this Idempotency-Key finished, but its results were over the per-record limit and were not kept: send it with a new Idempotency-Key to run it again',
        [{ field: 'Idempotency-Key', message: 'results too large to replay' }],
      );
    }
    return finished.results;
  }

  /**
   * Stores a finished run under its claimed key: its results, or (null, or over the per-record
   * cap) only its fingerprint.
   */
  async complete(key: string, fingerprint: string, results: string | null): Promise<void> {
    let record: FinishedRecord = { state: 'done', fingerprint, results };
    if (results !== null && recordBytes(key, record) > this.maxRecordBytes) record = { state: 'done', fingerprint, results: null };
    const owner = this.letGo(key);
    if (owner !== undefined) await this.records.complete(key, owner, record, recordBytes(key, record));
  }

  /** Gives a claimed key back (the run did not finish), so the client can retry. */
  async release(key: string): Promise<void> {
    const owner = this.letGo(key);
    if (owner !== undefined) await this.records.release(key, owner);
  }

  /** Renews the lease of a key this process claimed every third of the lease, until it is let go. */
  private hold(key: string, owner: string): void {
    const leaseMs = this.config.batch.idempotencyLeaseMs;
    const timer = setInterval(() => {
      this.records.renew(key, owner).then(
        (kept) => {
          if (kept || this.held.get(key)?.owner !== owner) return;
          // The lease ran out before this renewal (the process stalled): another run may hold the key now.
          this.logger.warn({ key }, 'Idempotency-Key lease lost: the run goes on, its results will not be kept');
          idempotencyLeasesLost.inc();
          this.letGo(key);
        },
        (err: unknown) => this.logger.warn({ err }, 'Could not renew an Idempotency-Key lease'),
      );
    }, Math.max(100, Math.floor(leaseMs / 3)));
    timer.unref();
    this.held.set(key, { owner, timer });
  }

  /** Stops renewing `key`; its owner token, or undefined when this process no longer holds it. */
  private letGo(key: string): string | undefined {
    const held = this.held.get(key);
    if (!held) return undefined;
    clearInterval(held.timer);
    this.held.delete(key);
    return held.owner;
  }

  private unreachable(err: unknown): ApiError {
    this.logger.error({ err }, 'Idempotency store unreachable');
    return new ApiError(503, 'idempotency_unavailable', 'The idempotency store cannot be reached: retry later, or send the batch without Idempotency-Key');
  }
}
