import type { Request, Response } from 'express';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, type BrotliDecompress, type Gunzip, type Inflate } from 'node:zlib';
import { ApiError } from '../common/errors/api-error.js';
import { ClientClosedError } from '../common/security/client-errors.js';
import { MB } from '../config/units.js';
import type { Fingerprint } from './idempotency.store.js';

/** Bounds on what one NDJSON upload may cost to read. */
export interface UploadLimits {
  /** Most bytes of the body once decoded (as sent when it is not compressed); more is a 413. */
  maxBytes: number;
  /**
   * Most decoded bytes per compressed byte read, checked once {@link RATIO_FLOOR_BYTES} are
   * decoded; more is a 413. Text a client compressed compresses far less than a bomb does.
   */
  maxRatio: number;
}

/** Decoded bytes under which the compression ratio is not checked: a small body may compress very well. */
export const RATIO_FLOOR_BYTES = MB;

type Decoder = Gunzip | Inflate | BrotliDecompress;

function decoderFor(encoding: string): Decoder | undefined {
  if (encoding === 'gzip' || encoding === 'x-gzip') return createGunzip();
  if (encoding === 'deflate') return createInflate();
  if (encoding === 'br') return createBrotliDecompress();
  return undefined;
}

/**
 * The raw body of an NDJSON upload, decoded (`Content-Encoding` gzip, deflate or br, as the JSON
 * parser accepts) so every limit counts decompressed bytes. The global JSON body parser leaves
 * NDJSON alone, so this is the only reader of the request stream.
 *
 * Reading is bounded and stops early:
 * - over `limits.maxBytes` decoded bytes, or past `limits.maxRatio` decoded bytes per compressed
 *   byte, the next read throws `ApiError(413)`;
 * - when the reader stops before the end (a limit, an error, the consumer left), nothing more is
 *   decoded, the request is no longer read, and an answer not yet sent carries
 *   `Connection: close`;
 * - when the response closes (answered or the client left) before the body was read to its end,
 *   the decoder and the request stream are destroyed, so the rest is never read.
 *
 * A client that closes the connection before the end makes the read fail with a
 * {@link ClientClosedError}.
 *
 * @throws ApiError 415 for an encoding it cannot decode.
 */
export function uploadBody(req: Request, res: Response, limits: UploadLimits): AsyncIterable<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const decoder = decoderFor(encoding);
  if (!decoder && encoding !== 'identity') throw new ApiError(415, 'unsupported_media_type', `Content-Encoding ${encoding} is not supported`);
  return new UploadReader(req, res, decoder, encoding, limits).chunks();
}

/** One upload being read: its decoder, its byte counts and the wiring that stops it. */
class UploadReader {
  private decoded = 0;
  private stopped = false;

  constructor(
    private readonly req: Request,
    private readonly res: Response,
    private readonly decoder: Decoder | undefined,
    private readonly encoding: string,
    private readonly limits: UploadLimits,
  ) {
    if (decoder) {
      // Not `pipeline`: it would destroy the request (and its socket) with the decoder, before an
      // early answer (413) could be sent.
      req.pipe(decoder);
      // A read in progress sees the decoder's error through its iterator; with none in progress
      // (not started yet, or already left) there is no one to tell, and no one must crash.
      decoder.on('error', () => undefined);
      req.once('close', () => {
        if (!req.complete) decoder.destroy(new ClientClosedError());
      });
    }
    res.once('close', () => {
      // Closed before the answer was complete: the connection went away.
      this.stop(res.writableFinished ? undefined : new ClientClosedError());
      if (!req.complete) req.destroy();
    });
  }

  async *chunks(): AsyncGenerator<Buffer> {
    const source: Readable = this.decoder ?? this.req;
    let ended = false;
    try {
      // The stream is stopped here, not by the iterator: destroying the request would close the
      // socket before the answer is written.
      for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        this.count(chunk.length);
        yield chunk;
      }
      ended = true;
    } catch (err) {
      throw this.mapped(err);
    } finally {
      if (!ended) this.stop();
    }
  }

  private count(bytes: number): void {
    this.decoded += bytes;
    if (this.decoded > this.limits.maxBytes) {
      throw new ApiError(413, 'payload_too_large', `The NDJSON upload is larger than ${this.limits.maxBytes} bytes once decoded (BATCH_NDJSON_MAX_BYTES)`);
    }
    const compressed = this.decoder?.bytesWritten;
    if (compressed !== undefined && this.decoded > RATIO_FLOOR_BYTES && this.decoded > this.limits.maxRatio * compressed) {
      throw new ApiError(413, 'payload_too_large', `The NDJSON upload expands more than ${this.limits.maxRatio} times when decoded (BATCH_NDJSON_MAX_RATIO)`);
    }
  }

  /**
   * A corrupt compressed body is the client's error (400), before or after the first result; a
   * request stream that fails before its end means the client closed the connection.
   */
  private mapped(err: unknown): unknown {
    if (err instanceof ApiError || err instanceof ClientClosedError) return err;
    const code = (err as { code?: unknown }).code;
    if (this.decoder && typeof code === 'string' && code.startsWith('Z_')) {
      return new ApiError(400, 'malformed_json', `Request body is not valid ${this.encoding} data`);
    }
    return this.req.complete ? err : new ClientClosedError();
  }

  /**
   * Nothing more is decoded or read; an answer not sent yet says the connection will close. A
   * read still waiting on the decoder fails with `reason` (or as a premature close).
   */
  private stop(reason?: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.decoder) {
      this.req.unpipe(this.decoder);
      this.decoder.destroy(reason);
    }
    if (this.req.complete) return;
    this.req.pause();
    if (!this.res.headersSent) this.res.setHeader('Connection', 'close');
  }
}

/** Passes the body through, hashing it on the way (the idempotency fingerprint of an upload). */
export async function* hashing(body: AsyncIterable<Buffer>, fingerprint: Fingerprint): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    fingerprint.update(chunk);
    yield chunk;
  }
}

/** Reads and hashes the whole body without keeping it (checking a repeat against a finished run). */
export async function hashAll(body: AsyncIterable<Buffer>, fingerprint: Fingerprint): Promise<string> {
  for await (const chunk of body) fingerprint.update(chunk);
  return fingerprint.digest();
}

/**
 * Reads the first element before anything is sent, so an empty upload can still be a 422, then
 * yields it and the rest.
 * @returns undefined when the source is empty.
 */
export async function peeked<T>(source: AsyncIterable<T>): Promise<AsyncIterable<T> | undefined> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return undefined;
  return {
    [Symbol.asyncIterator]: () => {
      let sentFirst = false;
      return {
        next: () => {
          if (sentFirst) return iterator.next();
          sentFirst = true;
          return Promise.resolve(first);
        },
        return: (value?: unknown) => iterator.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
      };
    },
  };
}
