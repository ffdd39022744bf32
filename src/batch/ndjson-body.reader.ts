import type { Readable } from 'node:stream';
import { ApiError } from '../common/errors/api-error.js';

/** One line of an NDJSON upload: its parsed value, or why it could not be read. */
export type NdjsonLine =
  | { index: number; value: unknown }
  | { index: number; error: { code: 'malformed_json' | 'payload_too_large'; message: string } };

export interface NdjsonReadOptions {
  /** Most lines, blank ones included; one more ends the read with a 413 `payload_too_large` error. */
  maxLines: number;
  /** Most bytes in one line; a longer line becomes an error for that line and is skipped. */
  maxLineBytes: number;
}

const NEWLINE = 0x0a;

/**
 * Reads an NDJSON body line by line as it arrives. Memory is bounded by one socket chunk plus one
 * line (`maxLineBytes`): the body is pulled only as the caller asks for the next line, so a slow
 * consumer holds the upload back through TCP instead of buffering it. Blank lines are skipped;
 * `index` is the 0-based line number in the upload (blank lines counted), so a client can find
 * the line an item is about.
 *
 * A line that is not JSON, or longer than `maxLineBytes`, is yielded as an error for that line and
 * reading goes on. More than `maxLines` lines throws `ApiError(413)`, blank lines included: they
 * yield nothing, so a body of nothing but newlines (a compressed one decodes to gigabytes of
 * them) would otherwise be read to its end before anything is answered.
 */
export async function* readNdjsonLines(body: Readable | AsyncIterable<Buffer | string>, opts: NdjsonReadOptions): AsyncGenerator<NdjsonLine> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let oversized = false;
  let index = 0;

  function* emit(): Generator<NdjsonLine> {
    const lineIndex = index++;
    if (index > opts.maxLines) {
      throw tooManyLines(opts.maxLines);
    }
    if (oversized) {
      yield { index: lineIndex, error: { code: 'payload_too_large', message: `line ${lineIndex + 1} is longer than ${opts.maxLineBytes} bytes` } };
    } else {
      const text = Buffer.concat(parts, partBytes).toString('utf8').trim();
      if (text !== '') yield parseLine(text, lineIndex);
    }
    parts = [];
    partBytes = 0;
    oversized = false;
  }

  // A Readable iterates as `any`: its chunks are Buffers or, with an encoding set, strings.
  for await (const raw of body as AsyncIterable<Buffer | string>) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let start = 0;
    while (start < chunk.length) {
      if (partBytes === 0 && !oversized && chunk[start] === NEWLINE) {
        // A run of blank lines is counted in one tight loop: a flood of them (a tiny compressed
        // upload) costs the event loop nothing per line beyond this count.
        let run = start;
        while (run < chunk.length && chunk[run] === NEWLINE) run++;
        index += run - start;
        if (index > opts.maxLines) throw tooManyLines(opts.maxLines);
        start = run;
        continue;
      }
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!oversized) {
        if (partBytes + (end - start) > opts.maxLineBytes) {
          // Keep nothing of an oversized line: skip to its end.
          oversized = true;
          parts = [];
          partBytes = 0;
        } else if (end > start) {
          parts.push(chunk.subarray(start, end));
          partBytes += end - start;
        }
      }
      if (nl === -1) break;
      yield* emit();
      start = nl + 1;
    }
  }
  if (partBytes > 0 || oversized) yield* emit();
}

function tooManyLines(max: number): ApiError {
  return new ApiError(413, 'payload_too_large', `The NDJSON upload has more than ${max} lines (blank lines count)`);
}

function parseLine(text: string, index: number): NdjsonLine {
  try {
    return { index, value: JSON.parse(text) as unknown };
  } catch {
    return { index, error: { code: 'malformed_json', message: `line ${index + 1} is not valid JSON` } };
  }
}
