import type { Audience, CaptionStyle, ContentType } from '../dto/caption-options.js';

/**
 * Everything language-specific the template engine needs. Templates hold slots in braces:
 * `{subject}` (the description's key phrase), `{scene}` (its first short clause), `{e}` (an emoji,
 * dropped when emojis are off), and any slot named in the style's `words`. A slot written with a
 * capital (`{Subject}`) is capitalised. Banks hold no emoji themselves: emojis only enter through
 * `{e}`, so `include_emojis: false` is always obeyed.
 */
export interface StyleBank {
  /** Each structure is a list of sentences; the first carries the subject. */
  structures: string[][];
  /** Vocabulary for the style's own slots. */
  words: Record<string, string[]>;
  ctas: string[];
  emojis: string[];
  /** Most emojis in one caption (professional: 1). */
  maxEmojis: number;
  /** Whether audience lines marked as slang may be used. */
  slang: boolean;
  /** Whether audience, content-type and brand lines are added (minimalist keeps to a few words). */
  extras: boolean;
  /** Sentences that bring in a second key phrase of the description, `{term}`. */
  termLines: string[];
  /** Brand sign-offs, `{brand}` is the brand name. */
  brandLines: string[];
}

export interface AudienceBank {
  lines: string[];
  /** Lines only for styles that allow slang. */
  slangLines: string[];
  tags: string[];
}

export interface PhraseBank {
  stopWords: ReadonlySet<string>;
  styles: Record<CaptionStyle, StyleBank>;
  audiences: Record<Audience, AudienceBank>;
  contentTypes: Record<ContentType, { lines: string[]; tags: string[] }>;
  styleTags: Record<CaptionStyle, string[]>;
  /** Topic word (singular, lower case) → related tags and an emoji. */
  topics: Record<string, { tags: string[]; emoji: string }>;
  /** Voice words → adjectives used in the brand line. */
  voices: Array<{ match: RegExp; adjectives: string[] }>;
  /** Used when the description has no content word at all. */
  fallbackSubject: string;
  /** Where a noun phrase keeps its head when it must be shortened: English "fresh strawberry pancakes" (last), Spanish "tortitas de fresa" (first). */
  headFirst: boolean;
  /** Reading ease of a caption in this language, 0–100 (English: Flesch; Spanish: Fernández Huerta). */
  readability(text: string): number;
  /** Very short CTAs for the tightest captions (at most 9 characters). */
  shortCtas: string[];
  /** Stop words that may join content words inside a phrase (Spanish "de": "tortitas de fresa"). */
  connectors: ReadonlySet<string>;
  /** The voice line when there is no brand name; `{voice}` is a voice word. */
  voiceLine: string;
  /**
   * A description that opens with a verb ("Launching our new shoes", "Lanzando nuestras…"): a
   * first word matching `verb` followed by one of `determiners` is not taken as the subject.
   */
  leadingVerb: { verb: RegExp; determiners: ReadonlySet<string> };
  /** Short, generic tags (at most 6 letters each, at least 40): only after every relevant tag. */
  shortTags: string[];
  /** Words that make a caption short when space is tight. */
  shortClosers: string[];
}
