/**
 * Whether a caption's parts come from its request: hashtags from the description's nouns, names
 * and topics or from the brand, never from its verbs or from a piece of a number; numbers whole.
 * Plain functions, so any engine can check its drafts with them.
 */
import type { ParsedDescription } from './description-parser.js';
import { toHashtag } from './hashtag-picker.js';

/** Where a hashtag comes from; `ungrounded` is a tag the request gives no reason for. */
export type TagSource = 'description' | 'brand' | 'fallback' | 'ungrounded';

/** What a request grounds a hashtag in. */
export interface HashtagGround {
  /** Tags built from the description: its noun phrases, names, nouns and their topic tags (`#` + lower case). */
  description: ReadonlySet<string>;
  /** Nouns of the description (lower case, at least 4 letters, names excluded): a tag containing one is about the description (#sunsetvibes). */
  stems: readonly string[];
  /** Tags of `brand_info` (its name and keywords). */
  brand: ReadonlySet<string>;
  /** Tags the request allows as filler: the style's, audience's and content type's curated tags and the language's short tags. */
  fallback: ReadonlySet<string>;
  /** Verbs of the description (lower case): never a tag, nor part of one. */
  verbs: readonly string[];
}

const body = (tag: string) => tag.replace(/^#/, '').toLowerCase();
/** The tags of `items` (`#` + lower case, as the engine makes them; a leading `#` is optional). */
export const tagSet = (items: Iterable<string>): Set<string> => {
  const set = new Set<string>();
  for (const item of items) {
    const tag = toHashtag(item.replace(/^#/, ''));
    if (tag) set.add(tag);
  }
  return set;
};

/** Singular-ish stem for containment ("hikes" → "hike"). */
const stem = (word: string) => (word.length > 4 ? word.replace(/(?:es|s)$/u, '') : word);

/** A {@link HashtagGround} from a parsed description, the topic tags its nouns bring, the brand's words and the filler lists. */
export function hashtagGround(
  parsed: ParsedDescription,
  extras: { topicTags?: Iterable<string>; brand?: Iterable<string>; fallback?: Iterable<string> } = {},
): HashtagGround {
  const fromPhrases = parsed.phrases.flatMap((p) =>
    p.entity
      ? [p.tag ?? p.words.join('')]
      : [p.words.filter((w) => !/\p{N}/u.test(w)).join(''), ...(p.tag && !/\p{N}/u.test(p.tag) ? [p.tag] : []), ...p.words.filter((w) => /\p{L}/u.test(w) && !/\p{N}/u.test(w))],
  );
  const entityWords = new Set(parsed.phrases.filter((p) => p.entity && p.words.length > 1).flatMap((p) => p.words));
  const nouns = parsed.nouns.filter((n) => !entityWords.has(n) && !/\p{N}/u.test(n));
  return {
    description: tagSet([...fromPhrases, ...nouns, ...(extras.topicTags ?? [])]),
    stems: [...new Set(nouns.filter((n) => n.length >= 4).map(stem))],
    brand: tagSet(extras.brand ?? []),
    fallback: tagSet(extras.fallback ?? []),
    verbs: parsed.verbs.filter((v) => v.length >= 3),
  };
}

/**
 * Where `tag` comes from. A tag holding a digit is grounded only when the description or brand
 * gives exactly it (a name such as #iphone17); a tag that is a verb of the description, or starts
 * or ends with one (#grew, #quarterlyrevenuegrew), is ungrounded; a piece of a multi-word name
 * (#mount of Mount Tamalpais) is not a noun of the description, so it is ungrounded too.
 */
export function tagSource(tag: string, ground: HashtagGround): TagSource {
  const normal = toHashtag(body(tag));
  if (!normal) return 'ungrounded';
  const b = body(normal);
  if (ground.brand.has(normal)) return 'brand';
  if (ground.verbs.some((v) => b === v || (b.length > v.length && (b.startsWith(v) || b.endsWith(v))))) {
    return ground.description.has(normal) && !ground.verbs.includes(b) ? 'description' : 'ungrounded';
  }
  if (ground.description.has(normal)) return 'description';
  if (/\p{N}/u.test(b)) return 'ungrounded';
  if (ground.stems.some((s) => b.includes(s))) return 'description';
  if (ground.fallback.has(normal)) return 'fallback';
  return 'ungrounded';
}

/** `tags` sorted by where they come from (see {@link tagSource}); order kept inside each group. */
export function groundedHashtags(tags: readonly string[], ground: HashtagGround): { grounded: string[]; fallback: string[]; ungrounded: string[] } {
  const out = { grounded: [] as string[], fallback: [] as string[], ungrounded: [] as string[] };
  for (const tag of tags) {
    const source = tagSource(tag, ground);
    if (source === 'description' || source === 'brand') out.grounded.push(tag);
    else if (source === 'fallback') out.fallback.push(tag);
    else out.ungrounded.push(tag);
  }
  return out;
}

const NUMBER = /[$€£¥]?\p{N}+(?:[.,:]\p{N}+)*(?:%|[€$£]|k\b|x\b)?/gu;

/**
 * Numbers of `text` that are a piece of a description number: "20" when the description says
 * "20%", "3" when it says "3.5". Numbers the description does not hold at all are not counted
 * (a template's "3 things to know" is its own).
 */
export function numberFragments(text: string, descriptionNumbers: readonly string[]): string[] {
  const whole = new Set(descriptionNumbers.map((n) => n.toLowerCase()));
  return (text.match(NUMBER) ?? []).filter((n) => {
    const lower = n.toLowerCase();
    if (whole.has(lower)) return false;
    // "20" of "20%" or "3" of "3.5" (cut at a unit or separator), not "2" of "20" (another number).
    return [...whole].some(
      (d) => (d.startsWith(lower) && !/^\p{N}/u.test(d.slice(lower.length))) || (d.endsWith(lower) && !/\p{N}$/u.test(d.slice(0, d.length - lower.length))),
    );
  });
}
