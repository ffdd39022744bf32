import { Packr, Unpackr } from 'msgpackr';
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompressSync, constants, gunzipSync, gzip } from 'node:zlib';
import type { CompressionType } from './loader-config.js';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/**
 * How a stored payload is encoded; persisted with each disk entry. The items are MessagePack
 * with record definitions inline (each entry decodes on its own), compressed or not.
 */
export enum Codec {
  MSGPACK = 3,
  MSGPACK_GZIP = 4,
  MSGPACK_BROTLI = 5,
}

export interface EncodedChunk {
  codec: Codec;
  payload: Buffer;
  /** Bytes of the uncompressed MessagePack. */
  rawBytes: number;
}

// Records: each object shape is written once per entry, then its values alone; decoding builds
// objects of one hidden class straight from them. Measured on 1,000 caption rows: 0.3 ms to
// decode against 0.7 ms for JSON.parse, and 30% fewer bytes than the JSON.
const packr = new Packr({ useRecords: true, bundleStrings: true });
const unpackr = new Unpackr({ useRecords: true, bundleStrings: true });

/**
 * The items as MessagePack: what a disk entry holds before compression. Synchronous (about
 * half of `JSON.stringify` on the same items). What JSON has no form for keeps its own here: a
 * `Date` reads back as a `Date`, `undefined` as `undefined`.
 * @throws RangeError on what MessagePack cannot hold (a BigInt past 64 bits).
 */
export function packItems(items: readonly unknown[]): Buffer {
  // msgpackr packs into a shared buffer of 4 MB or more and returns a view of it: a copy keeps an
  // entry waiting in the write queue from holding the whole of that buffer alive.
  return Buffer.from(packr.pack(items));
}

/**
 * Compresses `packed` above `threshold` bytes, as configured. gzip runs at level 1 and brotli at
 * quality 4 (brotli's default, 11, runs near 1 MB/s), on libuv's thread pool, so they never block
 * the event loop. `none` keeps a hit to its decode alone (inflating costs about half of it).
 */
export async function encodeChunk(packed: Buffer, type: CompressionType, threshold: number): Promise<EncodedChunk> {
  if (type === 'none' || packed.length <= threshold) return { codec: Codec.MSGPACK, payload: packed, rawBytes: packed.length };
  if (type === 'brotli') {
    const payload = await brotliAsync(packed, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: packed.length },
    });
    return { codec: Codec.MSGPACK_BROTLI, payload, rawBytes: packed.length };
  }
  return { codec: Codec.MSGPACK_GZIP, payload: await gzipAsync(packed, { level: 1 }), rawBytes: packed.length };
}

/**
 * The MessagePack bytes back. Synchronous on purpose: the thread-pool round trip measured 3×
 * slower than inflating in place. @throws on an unknown codec or a damaged stream.
 */
export function decodeChunk(codec: number, payload: Buffer): Buffer {
  switch (codec as Codec) {
    case Codec.MSGPACK:
      return payload;
    case Codec.MSGPACK_GZIP:
      return gunzipSync(payload);
    case Codec.MSGPACK_BROTLI:
      return brotliDecompressSync(payload);
    default:
      throw new Error(`unknown codec ${codec}`);
  }
}

/** The items of packed bytes. @throws on bytes that are not MessagePack. */
export function unpackItems(packed: Buffer): unknown {
  return unpackr.unpack(packed);
}
