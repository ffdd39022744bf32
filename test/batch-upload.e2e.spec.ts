import { request as httpRequest, type ClientRequest } from 'node:http';
import type { Transform } from 'node:stream';
import { brotliCompressSync, constants, createGzip, gzipSync, type Gunzip } from 'node:zlib';
import { Logger } from 'nestjs-pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { RATIO_FLOOR_BYTES } from '../src/batch/batch-upload.js';
import { metricsRegistry } from '../src/common/metrics/metrics.js';
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

  it('answers 413 to an uncompressed upload of blank lines past the line limit', async () => {
    expectContractError(await upload('identity', Buffer.alloc(10 * MAX_LINES, '\n')), `more than ${MAX_LINES} lines`);
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

  describe('a client that closes the connection mid-upload', () => {
    const LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
    let logged: Array<{ level: string; args: unknown[] }>;

    beforeEach(() => {
      logged = [];
      for (const level of LEVELS) {
        vi.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => void logged.push({ level, args }));
      }
    });
    afterEach(() => vi.restoreAllMocks());

    /** A metric's value for the labels given (0 when never set). */
    async function metric(name: string, labels: Record<string, string>): Promise<number> {
      const found = (await metricsRegistry.getMetricsAsJSON()).find((m) => m.name === name);
      const value = found?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
      return value?.value ?? 0;
    }
    const clientClosed = () => metric('http_requests_client_closed_total', { method: 'POST', route: PATH });
    const streamsClientClosed = () => metric('http_streams_ended_total', { route: 'POST /batch-process', outcome: 'client_closed' });
    const serverErrors = () => metric('http_server_request_duration_seconds', { route: PATH, status_class: '5xx' });
    const errorsLogged = () => logged.filter((l) => ['fatal', 'error', 'warn'].includes(l.level));

    /** An NDJSON upload sent gzip-compressed as the test writes it, flushed so the server can decode each write. */
    function openUpload(): { req: ClientRequest; gzip: ReturnType<typeof createGzip>; send: (text: string) => void; response: Promise<unknown> } {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: PATH, headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip', accept: 'application/x-ndjson' } });
      req.on('error', () => undefined);
      const gzip = createGzip();
      gzip.pipe(req);
      const response = new Promise((resolve) => req.once('response', (res) => resolve(res.on('error', () => undefined).resume())));
      return { req, gzip, send: (text) => void gzip.write(text, () => gzip.flush(constants.Z_SYNC_FLUSH)), response };
    }

    async function decoderHasRead(): Promise<Gunzip> {
      await vi.waitFor(() => expect((decoders[0]?.stream as Gunzip | undefined)?.bytesWritten).toBeGreaterThan(0));
      return decoders[0]!.stream as Gunzip;
    }

    it('before the first line: counted as client-closed and logged at debug without a stack, with no error and no 500', async () => {
      const before = { closed: await clientClosed(), errors: await serverErrors() };
      const upload = openUpload();
      upload.send('{"content_description": "Handmade ceramic mug, glazed in');
      const decoder = await decoderHasRead();
      upload.req.destroy();
      // Whichever the server does with the broken upload, it does it in one place: wait for either.
      await vi.waitFor(async () => expect(errorsLogged().length + (await clientClosed()) - before.closed).toBeGreaterThan(0));
      expect(errorsLogged()).toEqual([]);
      expect(await clientClosed()).toBe(before.closed + 1);
      expect(await serverErrors()).toBe(before.errors);
      const debug = logged.filter((l) => l.level === 'debug');
      expect(debug).toHaveLength(1);
      expect(JSON.stringify(debug[0]!.args)).not.toMatch(/stack|\bat /);
      expect(debug[0]!.args[0]).toEqual({ method: 'POST', route: PATH });
      expect(decoder.destroyed).toBe(true);
    });

    it('while results stream: counted as a client-closed stream, nothing logged as an error, the upload no longer read', async () => {
      const before = { streams: await streamsClientClosed(), errors: await serverErrors() };
      const upload = openUpload();
      upload.send('{"content_description": "Handmade ceramic mug, glazed in ocean blue"}\n');
      await upload.response;
      const decoder = await decoderHasRead();
      upload.send('{"content_description": "Second mug, half sent');
      upload.req.destroy();
      await vi.waitFor(() => expect(decoder.destroyed).toBe(true));
      await vi.waitFor(async () => expect(await streamsClientClosed()).toBe(before.streams + 1));
      expect(errorsLogged()).toEqual([]);
      expect(await serverErrors()).toBe(before.errors);
    });
  });
});
