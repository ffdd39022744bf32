import type { SeededRandom } from './seeded-random.js';
import { charCount } from './text-analysis.js';

/** Instagram hashtags: letters, digits and underscore, not only digits. */
export const VALID_HASHTAG = /^#(?=[\p{L}\p{N}_]*[\p{L}_])[\p{L}\p{N}_]+$/u;
/** A tag the picker can always fall back on costs at most this much, its separator included. */
export const SHORT_TAG_COST = 8;
const MAX_TAG_LETTERS = 30;

/** `#` + the letters, digits and underscores of `text`, lower case; undefined when not a valid tag. */
export function toHashtag(text: string): string | undefined {
  const body = text.toLowerCase().replace(/[^\p{L}\p{N}_]/gu, '');
  if (body.length < 2 || charCount(body) > MAX_TAG_LETTERS) return undefined;
  const tag = `#${body}`;
  return VALID_HASHTAG.test(tag) ? tag : undefined;
}

/**
 * The tags of `list` as the picker compares them (`#` + lower case), for a blocklist given in any
 * case, with or without `#`. Entries that cannot be hashtags are left out: they match nothing.
 */
export function hashtagSet(list: Iterable<string>): ReadonlySet<string> {
  const set = new Set<string>();
  for (const entry of list) {
    const tag = toHashtag(entry.trim().replace(/^#/, ''));
    if (tag) set.add(tag);
  }
  return set;
}

const NO_TAGS: ReadonlySet<string> = new Set();

export interface HashtagTiers {
  /** From the description's key phrases and terms, most important first. */
  description: string[];
  /** From `brand_info` keywords and name. */
  brand: string[];
  /** Tags of the topics the description mentions. */
  topics: string[];
  /** Curated sets for the style, audience and content type. */
  curated: string[];
  /** Short generic tags (≤ 6 letters), last resort when space is tight or the rest ran out. */
  short: string[];
}

/**
 * Picks exactly `count` unique tags (ignoring case) whose joined length (one space between)
 * fits `budget`, none of them in `blocked` (tags as {@link hashtagSet} gives them). Relevant tiers
 * come first; each variation shuffles the topic and curated tiers and rotates the description's
 * secondary terms, so lists differ between variations and requests. A blocked tag is skipped in
 * every tier, so the next relevant one takes its place. A longer tag is taken only if enough room
 * stays for short tags to complete the count.
 * @returns the tags and how many came from the description, brand or topic tiers.
 * @throws RangeError when the tiers, less the blocked tags, cannot give `count` tags within `budget`
 *   (the engine rules this out: its `max_length` check and its blocklist check at construction).
 */
export function pickHashtags(
  tiers: HashtagTiers,
  count: number,
  budget: number,
  rng: SeededRandom,
  variationIndex: number,
  blocked: ReadonlySet<string> = NO_TAGS,
): { tags: string[]; relevant: number } {
  const [lead, ...rest] = tiers.description;
  const shift = rest.length > 0 ? variationIndex % rest.length : 0;
  const description = lead ? [lead, ...rest.slice(shift), ...rest.slice(0, shift)] : [];
  const relevantRanked = [...description, ...tiers.brand, ...rng.shuffle(tiers.topics)];
  const ranked = [...relevantRanked, ...rng.shuffle(tiers.curated), ...rng.shuffle(tiers.short)];
  const relevantSet = new Set(relevantRanked.map((t) => toHashtag(t.replace(/^#/, ''))));

  const seen = new Set<string>();
  const tags: string[] = [];
  let used = 0;
  for (const raw of ranked) {
    if (tags.length === count) break;
    const tag = toHashtag(raw.replace(/^#/, ''));
    if (!tag || seen.has(tag) || blocked.has(tag)) continue;
    const cost = charCount(tag) + (tags.length > 0 ? 1 : 0);
    const reserve = (count - tags.length - 1) * SHORT_TAG_COST;
    if (used + cost + reserve > budget) continue;
    seen.add(tag);
    tags.push(tag);
    used += cost;
  }
  if (tags.length < count) throw new RangeError(`could not fit ${count} hashtags in ${budget} characters`);
  const relevant = tags.filter((t) => relevantSet.has(t)).length;
  return { tags, relevant };
}
