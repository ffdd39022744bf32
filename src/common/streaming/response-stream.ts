import { Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { once, setMaxListeners } from 'node:events';
import type { Writable } from 'node:stream';
import { constants as zlib, createBrotliCompress, createGzip, type BrotliCompress, type Gzip } from 'node:zlib';
import { isObservable, type Observable, type Subscription } from 'rxjs';
import { mapError } from '../errors/error-body.js';
import { activeStreams, streamEndings } from '../metrics/metrics.js';
import { LoopShare } from './loop-share.js';
import { MEDIA_TYPES, negotiateEncoding, type ContentEncoding, type StreamFormat } from './negotiation.js';
import { framingFor, type Framing, type FramingOptions } from './stream-serializers.js';

export type StreamOutcome = 'completed' | 'client_closed' | 'failed' | 'shutdown' | 'idle_timeout' | 'too_slow';

export interface ResponseStreamOptions<T> extends FramingOptions<T> {
  format: StreamFormat;
  /** Items per write (the `chunk_size` query parameter). A burst is grouped up to this; a lone item leaves at once. */
  chunkSize?: number;
  /** Compress when the client's Accept-Encoding allows gzip or br. */
  compress?: boolean;
  /** Extra response headers (`X-Chunk-Size`, `X-Batch-Size`…). */
  headers?: Record<string, string>;
  /** Route template for metrics labels. */
  route: string;
  /**
   * Ends the stream, destroying its connection, when the client has taken nothing for this many
   * milliseconds while a write waits for it to drain (outcome `idle_timeout`, logged and counted).
   * Unset: a stalled client is waited for as long as it keeps the connection open.
   */
  idleTimeoutMs?: number;
  /**
   * With `idleTimeoutMs`: ends the stream, destroying its connection, when over a whole window of
   * `idleTimeoutMs` the client took fewer than this many bytes a second while the stream waited for
   * it (outcome `too_slow`, logged and counted). A client that drains a little now and then is not
   * idle, yet at a few KB/s a million-row export would hold its slot, cursor and socket for a day
   * or more. (Slower still, the pending writes take longer than `idleTimeoutMs` to drain: idle.)
   * Unset or 0: no minimum.
   */
  minBytesPerSecond?: number;
  /**
   * SSE only: after this many milliseconds without a write, a comment line (`: keep-alive`) is
   * sent, so a proxy's read timeout (nginx: 60 s) or a client's does not end a stream whose events
   * are slow to come (a batch queued behind others). Default {@link SSE_HEARTBEAT_MS}; 0: none.
   */
  heartbeatMs?: number;
}

/** Silence after which an SSE stream sends a comment line: well under common proxy timeouts. */
export const SSE_HEARTBEAT_MS = 15_000;

/**
 * Bytes per write of {@link ResponseStream.sendBatches}: few writes (each a syscall, a chunk
 * header, a compressor flush), little held in the process for a slow client.
 */
export const BATCH_WRITE_BYTES = 64 * 1024;
/** Written buffers kept per stream for reuse. */
const SPARE_BUFFERS = 4;
/** UTF-8 takes at most three bytes per UTF-16 code unit. */
const MAX_UTF8_PER_UNIT = 3;

const open = new Set<ResponseStream<unknown>>();
const logger = new Logger('ResponseStream');

/**
 * One streamed response: writes items from an RxJS Observable or an async iterable as a JSON
 * array, NDJSON, SSE or CSV, with backpressure, cancellation and honest compression.
 *
 * - Backpressure: an async iterable is pulled only when the socket can take more. An Observable
 *   producer should `await stream.ready()` before each item (the lazy loader and batch do).
 * - Fairness: an async iterable is pulled for a bounded slice of time before the event loop gets a
 *   turn ({@link LoopShare}), even when the client reads as fast as the source produces.
 * - Cancellation: `signal` aborts when the client goes away, stalls past `idleTimeoutMs`, or the
 *   server shuts down; the subscription is dropped and the iterable is returned, so producers stop.
 * - Compression: `Content-Encoding` is set only when the body really is gzip or br, and every
 *   write is flushed so compression never holds an item back.
 * - Failure after the first byte: the status cannot change, so the stream ends with the
 *   contract's error item (SSE `event: error`); CSV has no error item and is cut off instead.
 */
export class ResponseStream<T> {
  private readonly controller = ResponseStream.streamController();
  private readonly framing: Framing<T>;
  private readonly out: Writable;
  private readonly compressor?: Gzip | BrotliCompress;
  private readonly chunkSize: number;
  private readonly started = process.hrtime.bigint();
  private pending: string[] = [];
  private pendingItems = 0;
  /** sendBatches: framed items, encoded in place, waiting for their write. */
  private bytes?: Buffer;
  private bytesUsed = 0;
  /**
   * Buffers whose write has completed, for the next items: a new 64 KB Buffer per write is
   * memory outside the JS heap that only a full collection frees, and V8 lets tens of MB of it
   * pile up first (measured: RSS +40 MB over one export).
   */
  private readonly spare: Buffer[] = [];
  private count = 0;
  private flushTimer?: NodeJS.Immediate;
  private ended = false;
  private outcome: StreamOutcome = 'completed';
  private settle?: () => void;
  private drained?: Promise<void>;
  private rateTimer?: NodeJS.Timeout;
  private rateMark = 0;
  private heartbeatTimer?: NodeJS.Timeout;
  private lastWriteAt = performance.now();

  /** Aborted when the client disconnects or stalls past `idleTimeoutMs`, or the server shuts down. */
  readonly signal = this.controller.signal;
  /** What was actually sent: `identity` unless the body is compressed. */
  readonly encoding: ContentEncoding;

  constructor(
    private readonly req: Request,
    private readonly res: Response,
    private readonly options: ResponseStreamOptions<T>,
  ) {
    this.framing = framingFor(options.format, options);
    this.chunkSize = Math.max(1, options.chunkSize ?? 1);
    this.encoding = options.compress ? negotiateEncoding(req) : 'identity';

    res.status(200);
    const charset = options.format === 'sse' ? '' : '; charset=utf-8';
    res.setHeader('Content-Type', `${MEDIA_TYPES[options.format]}${charset}`);
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.setHeader('Vary', 'Accept, Accept-Encoding');
    for (const [k, v] of Object.entries(options.headers ?? {})) res.setHeader(k, v);

    if (this.encoding === 'identity') {
      this.out = res;
    } else {
      res.setHeader('Content-Encoding', this.encoding);
      this.compressor =
        this.encoding === 'br'
          ? createBrotliCompress({ params: { [zlib.BROTLI_PARAM_QUALITY]: 4 } })
          : createGzip({ level: 6 });
      this.compressor.pipe(res);
      this.out = this.compressor;
    }

    res.on('close', () => {
      if (!this.ended) this.abort('client_closed');
    });
    open.add(this as ResponseStream<unknown>);
    activeStreams.inc({ route: options.route });
    this.watchRate();
    this.keepAlive();
    res.flushHeaders();
    this.enqueue(this.framing.open());
  }

  /**
   * The stream's abort controller. Every concurrent load a stream drives (up to `max_concurrent`
   * batch items, each with its chunk reads) listens on this one signal and unlinks when done, so
   * more than Node's default of 10 listeners is concurrency, not a leak.
   */
  private static streamController(): AbortController {
    const controller = new AbortController();
    setMaxListeners(256, controller.signal);
    return controller;
  }

  /** Ends every open stream with the shutdown error item (graceful shutdown). */
  static async endAll(): Promise<void> {
    await Promise.all([...open].map((s) => s.shutdown()));
  }

  /** How many streams are open now. */
  static openCount(): number {
    return open.size;
  }

  /**
   * Resolves when the client can take more (or the stream ended): await it before producing the
   * next item. Concurrent callers share one wait, and nothing stays attached to the socket or the
   * signal afterwards, however many times a long stream waits.
   */
  async ready(): Promise<void> {
    if (this.ended || !this.out.writableNeedDrain) return;
    this.drained ??= this.waitForDrain().finally(() => (this.drained = undefined));
    await this.drained;
  }

  /** Resolves on `drain` or when the stream ends; past `idleTimeoutMs` without `drain`, ends it. */
  private async waitForDrain(): Promise<void> {
    const idleMs = this.options.idleTimeoutMs;
    const timer = idleMs === undefined ? undefined : setTimeout(() => this.endIdle(idleMs), idleMs);
    try {
      await once(this.out, 'drain', { signal: this.signal });
    } catch {
      // Aborted: the stream ended meanwhile.
    } finally {
      clearTimeout(timer);
    }
  }

  /** Bytes the kernel has taken from this response's socket (what sits in Node's buffers excluded). */
  private bytesTaken(): number {
    const socket = this.res.socket;
    return socket ? (socket.bytesWritten ?? 0) - socket.writableLength : 0;
  }

  /**
   * Every `idleTimeoutMs`, while the stream waits for the client: it must have taken at least
   * `minBytesPerSecond` over the window, or the stream is cut. A window in which the stream was not
   * waiting for the client (its source was slow, not the reader) judges nothing.
   */
  private watchRate(): void {
    const min = this.options.minBytesPerSecond ?? 0;
    const windowMs = this.options.idleTimeoutMs;
    if (!(min > 0) || windowMs === undefined) return;
    this.rateMark = this.bytesTaken();
    this.rateTimer = setInterval(() => {
      const taken = this.bytesTaken() - this.rateMark;
      this.rateMark += taken;
      if (this.ended || !this.out.writableNeedDrain) return;
      if (taken < (min * windowMs) / 1000) this.endTooSlow(taken, windowMs);
    }, windowMs);
    this.rateTimer.unref();
  }

  /** SSE: a comment line after `heartbeatMs` of silence; nothing while the client is not reading. */
  private keepAlive(): void {
    const everyMs = this.options.format === 'sse' ? (this.options.heartbeatMs ?? SSE_HEARTBEAT_MS) : 0;
    if (!(everyMs > 0)) return;
    this.heartbeatTimer = setInterval(() => {
      if (this.ended || this.out.destroyed || this.out.writableNeedDrain) return;
      if (performance.now() - this.lastWriteAt < everyMs) return;
      this.out.write(': keep-alive\n\n');
      this.compressor?.flush();
      this.lastWriteAt = performance.now();
    }, Math.max(10, Math.floor(everyMs / 2)));
    this.heartbeatTimer.unref();
  }

  private endTooSlow(taken: number, windowMs: number): void {
    this.abort('too_slow');
    logger.warn(
      { route: this.options.route, window_ms: windowMs, bytes_taken: taken, min_bytes_per_second: this.options.minBytesPerSecond, items_sent: this.count },
      'Stream ended: the client reads slower than the minimum rate',
    );
    this.compressor?.destroy();
    const socket = this.res.socket;
    if (socket) socket.resetAndDestroy();
    else this.res.destroy();
  }

  /** A client that takes nothing holds a database cursor, memory and a socket: let it go. */
  private endIdle(idleMs: number): void {
    if (this.ended) return;
    this.abort('idle_timeout');
    this.cutIdle(idleMs);
  }

  private cutIdle(idleMs: number): void {
    logger.warn({ route: this.options.route, idle_ms: idleMs, items_sent: this.count }, 'Stream ended: the client took nothing for too long');
    this.compressor?.destroy();
    // A reset, not a FIN: the kernel drops what the client left unread at once (a FIN would keep
    // it queued for a reader that may never come), and the client, when it reads, sees the cut.
    const socket = this.res.socket;
    if (socket) socket.resetAndDestroy();
    else this.res.destroy();
  }

  /** Writes every item of `source`, then the closing frame. Never rejects. */
  async send(source: Observable<T> | AsyncIterable<T>): Promise<StreamOutcome> {
    try {
      if (isObservable(source)) await this.drainObservable(source);
      else await this.drainIterable(source);
      if (!this.ended) await this.finish();
    } catch (err) {
      if (!this.ended) await this.fail(err);
    }
    return this.outcome;
  }

  /**
   * Writes every item of every batch of `source` (a producer that reads many items at once, such
   * as a database cursor's page), then the closing frame. Never rejects. No async step per item:
   * items are framed and encoded straight into writes of about {@link BATCH_WRITE_BYTES}, each
   * followed by a wait for `drain` when the socket has no room, so a slow client holds about one
   * write in the process. The items of a batch leave by the end of that batch.
   */
  async sendBatches(source: AsyncIterable<readonly T[]>): Promise<StreamOutcome> {
    try {
      await this.drainBatches(source);
      if (!this.ended) await this.finish();
    } catch (err) {
      if (!this.ended) await this.fail(err);
    }
    return this.outcome;
  }

  private async drainBatches(source: AsyncIterable<readonly T[]>): Promise<void> {
    const iterator = source[Symbol.asyncIterator]();
    const share = LoopShare.join();
    try {
      while (!this.ended) {
        const next = await iterator.next();
        if (next.done || this.ended) break;
        for (const item of next.value) {
          const wrote = this.append(this.framing.item(item, this.count));
          this.count += 1;
          if (wrote && this.out.writableNeedDrain) {
            await this.ready();
            if (this.ended) break;
          }
        }
        this.flush();
        if (this.out.writableNeedDrain) await this.ready();
        if (share.due()) await share.yield();
      }
    } finally {
      share.leave();
      if (this.ended) await iterator.return?.();
    }
  }

  /** Encodes `text` after what waits; @returns true when that took a write (the buffer was full). */
  private append(text: string): boolean {
    let wrote = false;
    // Text enqueued before (the opening frame) leaves first.
    if (this.pending.length > 0 || (this.bytes && this.bytesUsed + text.length * MAX_UTF8_PER_UNIT > this.bytes.length)) {
      this.flush();
      wrote = true;
    }
    if (text.length * MAX_UTF8_PER_UNIT > BATCH_WRITE_BYTES) {
      // Larger than any write: alone, as it is.
      this.flush();
      if (!this.out.destroyed) this.out.write(text);
      return true;
    }
    this.bytes ??= this.spare.pop() ?? Buffer.allocUnsafe(BATCH_WRITE_BYTES);
    this.bytesUsed += this.bytes.write(text, this.bytesUsed);
    return wrote;
  }

  private drainObservable(source: Observable<T>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let sub: Subscription | undefined = undefined;
      this.settle = () => {
        sub?.unsubscribe();
        resolve();
      };
      sub = source.subscribe({
        next: (item) => this.push(item),
        error: reject,
        complete: resolve,
      });
      if (this.ended) sub.unsubscribe();
    });
  }

  private async drainIterable(source: AsyncIterable<T>): Promise<void> {
    const iterator = source[Symbol.asyncIterator]();
    // A source that answers synchronously, read by a fast client, never waits on I/O: without
    // turns given back, the loop would be held (probes, every other request) for the whole stream.
    const share = LoopShare.join();
    try {
      while (!this.ended) {
        const next = await iterator.next();
        if (next.done || this.ended) break;
        this.push(next.value);
        if (this.out.writableNeedDrain) await this.ready();
        // Even after a wait for `drain`: a write the socket took at once drains on the next tick,
        // without a turn of the loop.
        if (share.due()) await share.yield();
      }
    } finally {
      share.leave();
      // Stops the producer (closes a database cursor, cancels prefetch).
      if (this.ended) await iterator.return?.();
    }
  }

  private push(item: T): void {
    if (this.ended) return;
    this.enqueue(this.framing.item(item, this.count));
    this.count += 1;
    this.pendingItems += 1;
    if (this.pendingItems >= this.chunkSize) this.flush();
    else this.flushTimer ??= setImmediate(() => this.flush());
  }

  private enqueue(text: string): void {
    if (text) this.pending.push(text);
  }

  /** Writes what waits: encoded items first (sendBatches), then framed text enqueued after them. */
  private flush(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    if (this.out.destroyed) return;
    let wrote = false;
    if (this.bytes && this.bytesUsed > 0) {
      // The buffer belongs to the socket until its write completes; then it takes new items.
      const buffer = this.bytes;
      this.out.write(buffer.subarray(0, this.bytesUsed), () => {
        if (this.spare.length < SPARE_BUFFERS) this.spare.push(buffer);
      });
      this.bytes = undefined;
      this.bytesUsed = 0;
      wrote = true;
    }
    if (this.pending.length > 0) {
      this.out.write(this.pending.join(''));
      this.pending = [];
      this.pendingItems = 0;
      wrote = true;
    }
    // A compressor holds bytes until flushed: flush per write so no item waits on compression.
    if (wrote) {
      this.compressor?.flush();
      this.lastWriteAt = performance.now();
    }
  }

  private elapsedSeconds(): number {
    return Number(process.hrtime.bigint() - this.started) / 1e9;
  }

  private async finish(): Promise<void> {
    this.enqueue(this.framing.close({ count: this.count, elapsedSeconds: this.elapsedSeconds() }));
    await this.end('completed');
  }

  private async fail(err: unknown): Promise<void> {
    const mapped = mapError(err);
    if (mapped.clientClosed) {
      // The client left (its upload broke off) before the socket's close was seen here.
      this.abort('client_closed');
      this.res.destroy();
      return;
    }
    const body = { error: mapped.code, message: mapped.message, timestamp: Date.now() / 1000 };
    await this.endWithError(body, 'failed');
  }

  private async shutdown(): Promise<void> {
    if (this.ended) return;
    const body = { error: 'not_ready', message: 'The server is shutting down', timestamp: Date.now() / 1000 };
    await this.endWithError(body, 'shutdown');
  }

  private async endWithError(body: object, outcome: StreamOutcome): Promise<void> {
    const framed = this.framing.error(body, this.count);
    if (framed === undefined) {
      // No error item in this format (CSV): cut the connection so the client sees it was incomplete.
      this.abort(outcome);
      this.res.destroy();
      return;
    }
    this.enqueue(framed);
    if (this.options.format === 'json') this.enqueue(']');
    await this.end(outcome);
  }

  private abort(outcome: StreamOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.outcome = outcome;
    this.controller.abort();
    this.release();
    this.settle?.();
  }

  private async end(outcome: StreamOutcome): Promise<void> {
    this.flush();
    this.ended = true;
    this.outcome = outcome;
    // Producers still running (an Observable that ignored the end) are told to stop.
    this.controller.abort();
    this.settle?.();
    const finished = once(this.res, 'close').catch(() => undefined);
    this.out.end();
    // The tail (what the last writes left in the process's buffers) must reach the socket within
    // the idle timeout too, or a client that stalls at the very end holds the response forever.
    const idleMs = this.options.idleTimeoutMs;
    const timer =
      idleMs === undefined
        ? undefined
        : setTimeout(() => {
            this.outcome = 'idle_timeout';
            this.cutIdle(idleMs);
          }, idleMs);
    await finished;
    clearTimeout(timer);
    this.release();
  }

  private release(): void {
    clearInterval(this.rateTimer);
    clearInterval(this.heartbeatTimer);
    if (!open.delete(this as ResponseStream<unknown>)) return;
    activeStreams.dec({ route: this.options.route });
    streamEndings.inc({ route: this.options.route, outcome: this.outcome });
  }
}
