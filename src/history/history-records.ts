import { csvField } from '../common/streaming/stream-serializers.js';
import type { HistoryRow } from './history.types.js';

/**
 * The columns of a {@link HistoryRecord}, in its order: what the export selects. The API's
 * field order too (`HistoryRow`), so a record serialises field by field in place.
 */
export const RECORD_COLUMNS = [
  'id', 'user_id', 'caption', 'hashtags', 'style', 'audience', 'content_type', 'language',
  'quality_score', 'engagement_score', 'request_id', 'created_at',
] as const;

/**
 * One history row as the database returns it, as an array in {@link RECORD_COLUMNS} order: the
 * export serialises these straight to bytes, with no object per row in between. `hashtags` is
 * the stored JSON text; PostgreSQL returns BIGINT (`created_at`) as a string.
 */
export type HistoryRecord = [
  id: number | string,
  user_id: string | null,
  caption: string,
  hashtags: string,
  style: string,
  audience: string,
  content_type: string,
  language: string,
  quality_score: number | string,
  engagement_score: number | string,
  request_id: string,
  created_at: number | string,
];

const DAY_MS = 86_400_000;
/** Past 9999-12-31 `toISOString` writes six-digit years: left to `Date`. */
const LAST_FOUR_DIGIT_MS = 253_402_300_800_000;
const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let cachedDay = -1;
let cachedDate = '';

/**
 * `new Date(ms).toISOString()`, computed: the date part once per day (an export runs in
 * `created_at` order, so consecutive rows share it), the time of day by arithmetic. Out of
 * the four-digit years or not an integer: `Date` itself.
 * @throws RangeError as `toISOString` does for a time that is not a date.
 */
export function isoTime(ms: number): string {
  if (!(Number.isInteger(ms) && ms >= 0 && ms < LAST_FOUR_DIGIT_MS)) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    cachedDate = new Date(day * DAY_MS).toISOString().slice(0, 10);
    cachedDay = day;
  }
  let t = ms - day * DAY_MS;
  const milli = t % 1000;
  t = (t - milli) / 1000;
  const s = t % 60;
  t = (t - s) / 60;
  const m = t % 60;
  const h = (t - m) / 60;
  return `${cachedDate}T${PAD2[h]}:${PAD2[m]}:${PAD2[s]}.${PAD3[milli]}Z`;
}

/** `JSON.stringify` of a number as the API sends it: finite numbers as themselves, others as null. */
const jsonNumber = (v: number | string): string => {
  const n = Number(v);
  return Number.isFinite(n) ? String(n) : 'null';
};

/**
 * What `JSON.stringify` writes other than as itself: a quote, a backslash, a control character or
 * a lone surrogate (in a `u` pattern a surrogate class matches only unpaired ones).
 */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/u;

/** `JSON.stringify(s)`: most fields need no escape, and quoting them in place allocates no string of its own. */
const json = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/**
 * The record as the API's row (`HistoryRow`), for readers that want objects.
 */
export function recordRow(r: HistoryRecord): HistoryRow {
  return {
    id: String(r[0]),
    user_id: r[1],
    caption: r[2],
    hashtags: JSON.parse(r[3]) as string[],
    style: r[4],
    audience: r[5],
    content_type: r[6],
    language: r[7],
    quality_score: Number(r[8]),
    engagement_score: Number(r[9]),
    request_id: r[10],
    created_at: isoTime(Number(r[11])),
  };
}

/**
 * `JSON.stringify(recordRow(r))`, byte for byte, without building the row: every string field
 * through `JSON.stringify`, `hashtags` as stored. That text is what `JSON.stringify` made of the
 * array when it was written (the repository's only way in), and `JSON.stringify(JSON.parse(t))`
 * is `t` for any such text, so parsing and writing it again would give the same bytes.
 */
export function recordJson(r: HistoryRecord): string {
  const user = r[1] === null ? 'null' : json(r[1]);
  return (
    `{"id":"${r[0]}","user_id":${user},"caption":${json(r[2])},"hashtags":${r[3]},"style":${json(r[4])},` +
    `"audience":${json(r[5])},"content_type":${json(r[6])},"language":${json(r[7])},` +
    `"quality_score":${jsonNumber(r[8])},"engagement_score":${jsonNumber(r[9])},"request_id":${json(r[10])},` +
    `"created_at":"${isoTime(Number(r[11]))}"}`
  );
}

/** The CSV line of the record (no line break), its fields in {@link RECORD_COLUMNS} order, as `csvField` writes the row's values. */
export function recordCsv(r: HistoryRecord): string {
  return (
    `${csvField(String(r[0]))},${csvField(r[1])},${csvField(r[2])},${csvField(JSON.parse(r[3]))},${csvField(r[4])},` +
    `${csvField(r[5])},${csvField(r[6])},${csvField(r[7])},${csvField(Number(r[8]))},${csvField(Number(r[9]))},` +
    `${csvField(r[10])},${csvField(isoTime(Number(r[11])))}`
  );
}
