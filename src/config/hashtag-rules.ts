/**
 * Most hashtags a caption may carry by default: Instagram allows five on a post or a reel (since
 * December 2025). An operator may raise it up to {@link HASHTAG_LIMIT_MAX}.
 */
export const DEFAULT_HASHTAG_LIMIT = 5;
/** The highest `HASHTAG_LIMIT`, and the request's absolute bound on `hashtag_count`. */
export const HASHTAG_LIMIT_MAX = 30;

/**
 * Generic tags the engine never emits by default: the ones Instagram discourages because they say
 * nothing about the post (#reels, #explore, #viral, #fyp…), and the usual filler (#instagood,
 * #photooftheday, #love…).
 */
export const DEFAULT_HASHTAG_BLOCKLIST: readonly string[] = [
  '#reels',
  '#explore',
  '#viral',
  '#fyp',
  '#foryou',
  '#foryoupage',
  '#explorepage',
  '#trending',
  '#instagood',
  '#photooftheday',
  '#love',
  '#instadaily',
  '#picoftheday',
  '#follow',
  '#like4like',
  '#followme',
  '#tbt',
  '#instalike',
];

/** Letters, digits and underscores, not only digits: what an Instagram hashtag is made of. */
const TAG_BODY = /^(?=[\p{L}\p{N}_]*[\p{L}_])[\p{L}\p{N}_]+$/u;

/**
 * Reads `HASHTAG_BLOCKLIST`: comma-separated tags, `#` optional, any case (`#FYP, viral`), or
 * `none` for no blocklist. Unset (or empty) means {@link DEFAULT_HASHTAG_BLOCKLIST}.
 * @returns the tags lower case with their `#`, without repeats, or an error naming the entries
 *   that cannot be hashtags.
 */
export function parseHashtagBlocklist(raw: string | undefined): { value: string[] } | { error: string } {
  if (raw === undefined || raw.trim() === '') return { value: [...DEFAULT_HASHTAG_BLOCKLIST] };
  if (raw.trim().toLowerCase() === 'none') return { value: [] };
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) return { error: 'lists no hashtag: name at least one, or none for no blocklist' };
  const bad = entries.filter((e) => !TAG_BODY.test(e.replace(/^#/, '')));
  if (bad.length > 0) {
    return { error: `must be comma-separated hashtags (letters, digits and _, # optional) or none; not ${bad.map((b) => JSON.stringify(b)).join(', ')}` };
  }
  return { value: [...new Set(entries.map((e) => `#${e.replace(/^#/, '').toLowerCase()}`))] };
}
