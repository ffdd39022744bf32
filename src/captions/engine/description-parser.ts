/**
 * What a language's parser finds in a description: the parts a caption may reuse, each of a known
 * kind, so a slot meant for a noun phrase only ever receives one.
 */

/** A noun phrase of the description. */
export interface NounPhrase {
  /** As written, without its determiner: "new trail running shoes", "Mount Tamalpais". */
  text: string;
  /** Ready for running text: English adds "the" to a bare singular count noun; else as written, with its determiner when it had one. */
  determined: string;
  /** Lower-case content words (for tags and coverage). */
  words: string[];
  /** A name (person, place, organisation, product): kept whole, never cut. */
  entity: boolean;
  /** The phrase as one hashtag body when it differs from its words joined (Romance connectors kept: "coucherdesoleil"). */
  tag?: string;
}

export interface ParsedDescription {
  /** Noun phrases in order of appearance, entities included. */
  phrases: NounPhrase[];
  /** Lower-case nouns and names, most frequent first, then by position: the description's key terms. */
  nouns: string[];
  /** Lower-case verb forms found: never hashtags, never a noun slot. */
  verbs: string[];
  /** Numbers as written, with their sign or unit ("20%", "3.5", "17"): never split. */
  numbers: string[];
  /** The description's first sentence without markup, when short enough to stand as a caption sentence of its own. */
  scene?: string;
}

export type DescriptionParser = (description: string) => ParsedDescription;

/** Parsers read at most this much of a description: captions use its opening, and parsing stays fast on the longest one. */
export const PARSED_CHARS = 600;

/** The description's opening, cut at a word boundary within {@link PARSED_CHARS}. */
export function parsedPart(description: string): string {
  if (description.length <= PARSED_CHARS) return description;
  const cut = description.slice(0, PARSED_CHARS);
  const space = cut.lastIndexOf(' ');
  return space > 0 ? cut.slice(0, space) : cut;
}

/** A number token as written: digits with inner separators, and a unit glued to it (%, €, $, k, x…). */
export const NUMBER_TOKEN = /^[$€£¥]?\p{N}+(?:[.,:]\p{N}+)*(?:%|[€$£]|k|K|x|h|km|kg|m)?$/u;

/** Terms ranked by frequency, then by first position. */
export function rankTerms(terms: string[]): string[] {
  const freq = new Map<string, { n: number; first: number }>();
  terms.forEach((t, i) => {
    const seen = freq.get(t);
    if (seen) seen.n += 1;
    else freq.set(t, { n: 1, first: i });
  });
  return [...freq.entries()].sort((a, b) => b[1].n - a[1].n || a[1].first - b[1].first).map(([t]) => t);
}

/** Letters, digits and light punctuation only: a scene never smuggles markup, tags or mentions into a caption. */
export function plainClause(text: string): string {
  return text
    .replace(/\p{Extended_Pictographic}|\uFE0F|\u200D/gu, '')
    .replace(/[^\p{L}\p{N}\s'’&,%€$£-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[,\s-]+$/u, '');
}

/** The scene: a first sentence of at most 10 words and 70 characters, else none. */
export function sceneOf(description: string): string | undefined {
  const raw = description.split(/[.!?\n]/u, 1)[0] ?? '';
  if (raw.length > 200) return undefined;
  const first = plainClause(raw);
  const count = first.split(' ').filter(Boolean).length;
  if (count < 2 || count > 10 || [...first].length > 70) return undefined;
  return first;
}
