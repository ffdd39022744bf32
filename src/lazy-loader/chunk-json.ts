/** Every UTF-16 code unit outside ASCII (a surrogate pair becomes two escapes, as JSON allows). */
const NON_ASCII = /[\u0080-\uffff]/g;
const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * A chunk's JSON as bytes, ASCII only: the same value as `JSON.stringify(items)`, with every
 * character outside ASCII written as a `\uXXXX` escape, so any JSON reader reads back the same
 * items. Why: the disk tier's hit is mostly decode + `JSON.parse`, and ASCII bytes decode to a
 * one-byte string, which V8 parses faster than the two-byte string a single emoji turns a whole
 * UTF-8 chunk into (1,000 caption rows: 1.3 ms of CPU against 1.85 ms; more in wall time on a
 * busy machine, see the loader benchmark). Costs about what `Buffer.from(JSON.stringify(items))` does.
 */
export function chunkJson(items: readonly unknown[]): Buffer {
  return Buffer.from(JSON.stringify(items).replace(NON_ASCII, escape), 'latin1');
}
