import type { Audience, CaptionStyle, ContentType, Language } from '../dto/caption-options.js';
import type { DescriptionParser } from './description-parser.js';

/**
 * Everything language-specific the template engine needs. Templates hold typed slots in braces:
 * `{subject}` (the description's first noun phrase, bare: only where a bare noun phrase is
 * grammatical, such as after a colon), `{theSubject}` (English: the same phrase ready for running
 * text, "the sunset hike", "our new shoes"), `{scene}` (the description's short first sentence,
 * only ever as a sentence of its own), `{e}` (an emoji, dropped when emojis are off), and any slot
 * named in the style's `words`. A slot written with a capital (`{Subject}`) is capitalised. Banks hold no emoji themselves: emojis only enter through
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
  /** Sentences that bring in a second noun phrase of the description, `{term}` (English: with its determiner; elsewhere bare, so only after a colon or as a label). */
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

/** ISO 639-1 codes of the languages the offline engine writes. */
export type LanguageCode = 'en' | 'es' | 'fr' | 'de' | 'it' | 'pt';

export interface PhraseBank {
  language: Language;
  code: LanguageCode;
  /** Finds the description's noun phrases, names, verbs and numbers. */
  parse: DescriptionParser;
  stopWords: ReadonlySet<string>;
  styles: Record<CaptionStyle, StyleBank>;
  audiences: Record<Audience, AudienceBank>;
  contentTypes: Record<ContentType, { lines: string[]; tags: string[] }>;
  styleTags: Record<CaptionStyle, string[]>;
  /** Topic word (singular, lower case) → related tags and an emoji. */
  topics: Record<string, { tags: string[]; emoji: string }>;
  /** Voice words → adjectives used in the brand line. */
  voices: Array<{ match: RegExp; adjectives: string[] }>;
  /** Used when the description has no noun phrase at all. */
  fallbackSubject: string;
  /** Reading ease of a caption in this language, 0–100, by the formula from the literature for it. */
  readability(text: string): number;
  /** Very short CTAs for the tightest captions (at most 9 characters). */
  shortCtas: string[];
  /** The voice line when there is no brand name; `{voice}` is a voice word. */
  voiceLine: string;
  /** Short, generic tags (at most 6 letters each, at least 40): only after every relevant tag. */
  shortTags: string[];
  /** Words that make a caption short when space is tight. */
  shortClosers: string[];
  /** Article and preposition contractions applied to a rendered line (Spanish "de el" → "del"). */
  contractions?: Array<[RegExp, string]>;
}
