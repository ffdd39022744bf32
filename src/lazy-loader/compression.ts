import { promisify } from 'node:util';
import { brotliCompress, brotliDecompressSync, constants, gunzipSync, gzip } from 'node:zlib';
import type { CompressionType } from './loader-config.js';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** How a stored payload is encoded; persisted with each disk entry. */
export enum Codec {
  JSON = 0,
  GZIP = 1,
  BROTLI = 2,
}

export interface EncodedChunk {
  codec: Codec;
  payload: Buffer;
  /** Bytes of the uncompressed JSON. */
  rawBytes: number;
}

/**
 * Serializes and, above `threshold` bytes, compresses. gzip runs at level 1 and brotli at
 * quality 4: brotli's default (11) runs near 1 MB/s, far too slow on the request path.
 * Compression runs on libuv's thread pool, so it never blocks the event loop.
 */
export async function encodeChunk(json: Buffer, type: CompressionType, threshold: number): Promise<EncodedChunk> {
  if (type === 'none' || json.length <= threshold) return { codec: Codec.JSON, payload: json, rawBytes: json.length };
  if (type === 'brotli') {
    const payload = await brotliAsync(json, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: json.length },
    });
    return { codec: Codec.BROTLI, payload, rawBytes: json.length };
  }
  return { codec: Codec.GZIP, payload: await gzipAsync(json, { level: 1 }), rawBytes: json.length };
}

/**
 * The JSON bytes back. Synchronous on purpose: inflating a chunk takes a fraction of the
 * JSON.parse that follows it, and the thread-pool round trip measured 3× slower than inflating
 * in place. @throws on an unknown codec or a damaged stream.
 */
export function decodeChunk(codec: number, payload: Buffer): Buffer {
  switch (codec as Codec) {
    case Codec.JSON:
      return payload;
    case Codec.GZIP:
      return gunzipSync(payload);
    case Codec.BROTLI:
      return brotliDecompressSync(payload);
    default:
      throw new Error(`unknown codec ${codec}`);
  }
}
