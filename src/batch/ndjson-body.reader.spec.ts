import { Readable } from 'node:stream';
import { brotliCompressSync, createBrotliDecompress, createGunzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../common/errors/api-error.js';
import { readNdjsonLines, type NdjsonLine } from './ndjson-body.reader.js';

const opts = { maxLines: 100, maxLineBytes: 64 };

async function collect(chunks: string[], o = opts): Promise<NdjsonLine[]> {
  const out: NdjsonLine[] = [];
  for await (const line of readNdjsonLines(Readable.from(chunks.map((c) => Buffer.from(c))), o)) out.push(line);
  return out;
}

describe(readNdjsonLines.name, () => {
  it('parses lines split anywhere across chunks, skipping blank lines but counting them', async () => {
    const sut = await collect(['{"a":', '1}\n\n{"b"', ':2}\r\n', '{"c":3}']);
    expect(sut).toEqual([
      { index: 0, value: { a: 1 } },
      { index: 2, value: { b: 2 } },
      { index: 3, value: { c: 3 } },
    ]);
  });

  it('reports a malformed line as an error for that line and goes on', async () => {
    const sut = await collect(['{"a":1}\nnot json\n{"c":3}\n']);
    expect(sut[1]).toEqual({ index: 1, error: { code: 'malformed_json', message: 'line 2 is not valid JSON' } });
    expect(sut[2]).toEqual({ index: 2, value: { c: 3 } });
  });

  it('skips an oversized line without holding it, and reads the next', async () => {
    const long = `{"x":"${'y'.repeat(200)}"}`;
    const sut = await collect([long.slice(0, 50), long.slice(50), '\n{"ok":true}\n']);
    expect(sut).toEqual([
      { index: 0, error: { code: 'payload_too_large', message: 'line 1 is longer than 64 bytes' } },
      { index: 1, value: { ok: true } },
    ]);
  });

  it('throws 413 once the upload has more lines than allowed', async () => {
    const lines = Array.from({ length: 4 }, (_, i) => `{"i":${i}}\n`);
    const read: NdjsonLine[] = [];
    const sut = async () => {
      for await (const l of readNdjsonLines(Readable.from(lines), { ...opts, maxLines: 3 })) read.push(l);
    };
    await expect(sut()).rejects.toBeInstanceOf(ApiError);
    expect(read).toHaveLength(3);
  });

  it('counts blank lines towards the limit: a body of newlines ends in 413 too', async () => {
    const read: NdjsonLine[] = [];
    const sut = async () => {
      for await (const l of readNdjsonLines(Readable.from(['{"i":0}\n', '\n'.repeat(200), '{"i":1}\n']), { ...opts, maxLines: 100 })) read.push(l);
    };
    await expect(sut()).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(read).toEqual([{ index: 0, value: { i: 0 } }]);
  });

  it.each([
    ['brotli', brotliCompressSync, createBrotliDecompress],
    ['gzip', gzipSync, createGunzip],
  ] as const)('stops a %s bomb of 32 MiB of newlines after the line limit, having decoded one chunk of it', async (_name, compress, decompressor) => {
    const bomb = compress(Buffer.alloc(32 * 1024 * 1024, '\n'));
    const decoder = Readable.from([bomb]).pipe(decompressor());
    let decoded = 0;
    async function* counted() {
      for await (const chunk of decoder) {
        decoded += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    }
    const sut = async () => {
      for await (const line of readNdjsonLines(counted(), { ...opts, maxLines: 1000 })) expect(line).toBeUndefined();
    };
    await expect(sut()).rejects.toMatchObject({ status: 413, code: 'payload_too_large' });
    // Zlib hands out 16 KiB at a time: 1,000 newlines are in the first chunk.
    expect(decoded).toBeLessThanOrEqual(16 * 1024);
  });

  it('pulls the body only as lines are asked for', async () => {
    let pulled = 0;
    async function* body() {
      for (let i = 0; i < 1000; i++) {
        pulled += 1;
        yield Buffer.from(`{"i":${i}}\n`);
      }
    }
    const sut = readNdjsonLines(body(), opts);
    await sut.next();
    await sut.next();
    expect(pulled).toBe(2);
    await sut.return(undefined);
  });
});
