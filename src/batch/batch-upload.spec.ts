import type { Request, Response } from 'express';
import { EventEmitter, once } from 'node:events';
import { PassThrough } from 'node:stream';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ClientClosedError } from '../common/security/client-errors.js';
import { RATIO_FLOOR_BYTES, uploadBody, type UploadLimits } from './batch-upload.js';

const MiB = 1024 * 1024;
const limits: UploadLimits = { maxBytes: 8 * MiB, maxRatio: 100 };

/** A request whose body is written by the test; `complete` once it was written to its end, as Node's. */
class FakeRequest extends PassThrough {
  complete = false;
  constructor(readonly headers: Record<string, string>) {
    super();
  }
  send(body: Buffer): this {
    this.complete = true;
    this.end(body);
    return this;
  }
}

class FakeResponse extends EventEmitter {
  headersSent = false;
  readonly headers: Record<string, string> = {};
  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }
}

function upload(encoding: string, l = limits) {
  const req = new FakeRequest(encoding === 'identity' ? {} : { 'content-encoding': encoding });
  const res = new FakeResponse();
  const sut = uploadBody(req as unknown as Request, res as unknown as Response, l);
  return { req, res, sut };
}

/** Reads `sut` to its end or its error; how many bytes it yielded, and the error. */
async function drain(sut: AsyncIterable<Buffer>): Promise<{ bytes: number; error?: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of sut) bytes += chunk.length;
    return { bytes };
  } catch (error) {
    return { bytes, error };
  }
}

describe(uploadBody.name, () => {
  it.each([
    ['brotli', 'br', brotliCompressSync],
    ['gzip', 'gzip', gzipSync],
  ] as const)('refuses a %s bomb by its ratio once past the floor, decoding no further', async (_name, encoding, compress) => {
    // 16 MiB of spaces: one line, never ended, that only the bounds stop.
    const bomb = compress(Buffer.alloc(16 * MiB, ' '));
    const { req, sut } = upload(encoding);
    req.send(bomb);
    const { bytes, error } = await drain(sut);
    expect(error).toMatchObject({ status: 413, code: 'payload_too_large', message: expect.stringContaining('expands more than 100 times') });
    expect(bytes).toBeGreaterThanOrEqual(RATIO_FLOOR_BYTES - 64 * 1024);
    expect(bytes).toBeLessThanOrEqual(RATIO_FLOOR_BYTES);
  });

  it('refuses a body over maxBytes once decoded, compressed or not, yielding no byte past it', async () => {
    // Random text compresses about 1.3:1, well under the ratio bound: only the byte bound stops it.
    const text = Buffer.from(Array.from({ length: 3 * MiB }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join(''));
    for (const [encoding, body] of [['identity', text], ['gzip', gzipSync(text)]] as const) {
      const { req, sut } = upload(encoding, { ...limits, maxBytes: 2 * MiB });
      req.send(body);
      const { bytes, error } = await drain(sut);
      expect(error).toMatchObject({ status: 413, code: 'payload_too_large', message: expect.stringContaining('larger than 2097152 bytes') });
      expect(bytes).toBeLessThanOrEqual(2 * MiB);
    }
  });

  it('reads a body that compresses well but stays under the floor, and one over the floor at an ordinary ratio', async () => {
    const small = Buffer.alloc(RATIO_FLOOR_BYTES, '\n');
    const lines = Buffer.from(Array.from({ length: 40_000 }, (_, i) => JSON.stringify({ content_description: `Mug number ${i}`, request_id: `r-${i}` })).join('\n'));
    for (const [encoding, body] of [['br', brotliCompressSync(small)], ['gzip', gzipSync(lines)]] as const) {
      const { req, sut } = upload(encoding);
      req.send(body);
      expect(await drain(sut)).toEqual({ bytes: encoding === 'br' ? small.length : lines.length });
    }
  });

  it('says the connection will close when it stops before the client sent everything and nothing was answered yet', async () => {
    const { req, res, sut } = upload('gzip');
    const bomb = gzipSync(Buffer.alloc(16 * MiB, ' '));
    // The client is still sending: the end of the body has not arrived.
    req.write(bomb.subarray(0, bomb.length - 100));
    expect((await drain(sut)).error).toMatchObject({ status: 413 });
    expect(res.headers.connection).toBe('close');
    expect(req.isPaused()).toBe(true);
  });

  it('answers 400 for a corrupt compressed body', async () => {
    const { req, sut } = upload('gzip');
    req.send(Buffer.from('not gzip at all'));
    expect((await drain(sut)).error).toMatchObject({ status: 400, code: 'malformed_json' });
  });

  it('stops reading when the response closes before the body was read: the decoder and the request are destroyed', async () => {
    const { req, res, sut } = upload('gzip');
    // Half a body: the client is still sending.
    const whole = gzipSync(Buffer.alloc(4 * MiB, 'x'));
    req.write(whole.subarray(0, whole.length / 2));
    const iterator = sut[Symbol.asyncIterator]();
    await iterator.next();
    const closed = once(req, 'close');
    res.emit('close');
    await closed;
    expect(req.destroyed).toBe(true);
    // Nothing more comes out of the destroyed decoder: the read ends with an error, never with data.
    await expect(iterator.next()).rejects.toBeDefined();
  });

  it.each([true, false])('lets the response close before anything was read (client gone: %s) without an unhandled error', async (clientGone) => {
    const { req, res } = upload('gzip');
    req.write(gzipSync(Buffer.alloc(MiB, 'x')).subarray(0, 500));
    const closed = once(req, 'close');
    (res as unknown as { writableFinished: boolean }).writableFinished = !clientGone;
    res.emit('close');
    await closed;
    expect(req.destroyed).toBe(true);
  });

  it.each(['identity', 'gzip'])('fails the read with ClientClosedError when the client closes the connection mid-upload (%s)', async (encoding) => {
    const { req, sut } = upload(encoding);
    req.write(encoding === 'gzip' ? gzipSync(Buffer.alloc(MiB, 'x')).subarray(0, 500) : Buffer.from('{"content_description":'));
    const iterator = sut[Symbol.asyncIterator]();
    const pending = iterator.next().then(() => iterator.next());
    req.destroy();
    await expect(pending).rejects.toBeInstanceOf(ClientClosedError);
  });
});
