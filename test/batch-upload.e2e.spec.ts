import type { Transform } from 'node:stream';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { RATIO_FLOOR_BYTES } from '../src/batch/batch-upload.js';
import { listening, rawRequest, type RawResponse } from './support/raw-request.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** Every decompressor the service makes, with the bytes it has put out so far. */
const decoders = vi.hoisted(() => [] as Array<{ stream: Transform; produced: number }>);

vi.mock('node:zlib', async (importOriginal) => {
  const zlib = await importOriginal<typeof import('node:zlib')>();
  // Counts what a decompressor pushes out, so a test can see how much of a bomb was decoded.
  const tracked =
    <A extends unknown[], S extends Transform>(make: (...args: A) => S) =>
    (...args: A): S => {
      const stream = make(...args);
      const entry = { stream: stream as Transform, produced: 0 };
      const push = stream.push.bind(stream);
      stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
        if (Buffer.isBuffer(chunk)) entry.produced += chunk.length;
        return push(chunk, encoding);
      };
      decoders.push(entry);
      return stream;
    };
  return { ...zlib, createGunzip: tracked(zlib.createGunzip), createBrotliDecompress: tracked(zlib.createBrotliDecompress) };
});

const MiB = 1024 * 1024;
const MAX_BYTES = 4 * MiB;
const MAX_LINES = 100;
const PATH = '/api/v14/lazy/batch-process';

describe('NDJSON upload bounds (POST /batch-process)', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp({ env: { BATCH_MAX_NDJSON_LINES: String(MAX_LINES), BATCH_NDJSON_MAX_BYTES: String(MAX_BYTES) } });
    port = await listening(t.app);
  });
  afterAll(async () => t.close());
  beforeEach(() => void (decoders.length = 0));

  const upload = (encoding: string, body: Buffer) =>
    rawRequest(port, 'POST', PATH, { 'content-type': 'application/x-ndjson', 'content-encoding': encoding, accept: 'application/x-ndjson' }, body);

  /** The one decompressor of the request, once it is destroyed (it never decodes again). */
  async function stoppedDecoder(): Promise<{ produced: number }> {
    expect(decoders).toHaveLength(1);
    const [decoder] = decoders;
    if (!decoder!.stream.destroyed) await new Promise((resolve) => decoder!.stream.once('close', resolve));
    expect(decoder!.stream.destroyed).toBe(true);
    return decoder!;
  }

  function expectContractError(res: RawResponse, messagePart: string): void {
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'payload_too_large', message: expect.stringContaining(messagePart), request_id: res.headers['x-request-id'], timestamp: expect.any(Number) });
  }

  it.each([
    ['brotli', 'br', brotliCompressSync],
    ['gzip', 'gzip', gzipSync],
  ] as const)('answers 413 to a %s bomb of 64 MiB of blank lines after the line limit, having decoded one chunk', async (_name, encoding, compress) => {
    const res = await upload(encoding, compress(Buffer.alloc(64 * MiB, '\n')));
    expectContractError(res, `more than ${MAX_LINES} lines`);
    // Zlib hands out 16 KiB at a time; a few chunks may be decoded ahead of the reader.
    expect((await stoppedDecoder()).produced).toBeLessThanOrEqual(4 * 16 * 1024);
  });

  it.each([
    ['brotli', 'br', brotliCompressSync],
    ['gzip', 'gzip', gzipSync],
  ] as const)('answers 413 to a %s bomb of one 64 MiB line by its compression ratio, past the first MiB', async (_name, encoding, compress) => {
    const res = await upload(encoding, compress(Buffer.alloc(64 * MiB, ' ')));
    expectContractError(res, 'expands more than 100 times');
    expect((await stoppedDecoder()).produced).toBeLessThanOrEqual(RATIO_FLOOR_BYTES + 4 * 16 * 1024);
  });

  it('answers 413 to an upload over BATCH_NDJSON_MAX_BYTES once decoded, even at an ordinary ratio', async () => {
    // Runs of spaces broken by random letters, with no line end: about 10:1 under gzip.
    const letter = () => String.fromCharCode(97 + Math.floor(Math.random() * 26));
    const line = Buffer.from(Array.from({ length: Math.ceil((5 * MiB) / 41) }, () => `${' '.repeat(40)}${letter()}`).join(''));
    const res = await upload('gzip', gzipSync(line));
    expectContractError(res, `larger than ${MAX_BYTES} bytes`);
    expect((await stoppedDecoder()).produced).toBeLessThanOrEqual(MAX_BYTES + 4 * 16 * 1024);
  });

  it('still reads an ordinary compressed upload to its end', async () => {
    const lines = Array.from({ length: 3 }, (_, i) => JSON.stringify({ content_description: `Handmade ceramic mug number ${i}`, request_id: `ok-${i}` }));
    const res = await upload('br', brotliCompressSync(Buffer.from(`${lines.join('\n\n')}\n`)));
    expect(res.status).toBe(200);
    const sent = res.text.trim().split('\n').map((l) => JSON.parse(l) as { success?: boolean; total?: number });
    expect(sent.filter((x) => x.success)).toHaveLength(3);
    expect(sent.at(-1)).toMatchObject({ total: 3, succeeded: 3 });
  });
});
