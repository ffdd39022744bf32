import type { Request } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { ApiError } from '../common/errors/api-error.js';
import type { Fingerprint } from './idempotency.store.js';

/**
 * The raw body of an NDJSON upload, decoded (`Content-Encoding` gzip, deflate or br, as the JSON
 * parser accepts) so line limits count decompressed bytes. The global JSON body parser leaves
 * NDJSON alone, so this is the only reader of the request stream.
 * @throws ApiError 415 for an encoding it cannot decode.
 */
export function uploadBody(req: Request): AsyncIterable<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (decoder) return decoded(pipeline(req, decoder, () => undefined), encoding);
  if (encoding !== 'identity') throw new ApiError(415, 'unsupported_media_type', `Content-Encoding ${encoding} is not supported`);
  return req;
}

/** A corrupt compressed body is the client's error (400), before or after the first result. */
async function* decoded(body: Readable, encoding: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk as Buffer;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new ApiError(400, 'malformed_json', `Request body is not valid ${encoding} data`);
    }
    throw err;
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
