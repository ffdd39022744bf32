import type { CaptionGenerationRequest } from '../dto/caption-generation-request.dto.js';
import type { NounPhrase, ParsedDescription } from './description-parser.js';
import { hashtagGround, type HashtagGround } from './grounding.js';
import { toHashtag, type HashtagTiers } from './hashtag-picker.js';
import type { PhraseBank } from './phrase-bank.js';
import { charCount, stripEmoji } from './text-analysis.js';
import { plainClause } from './description-parser.js';

/** The subject is short enough that the shortest caption (subject, emoji, CTA) always fits. */
export const SUBJECT_MAX_CHARS = 24;

/** What the engine understood of one request; shared by all its variations. */
export interface CaptionAnalysis {
  /** The description's first noun phrase that fits {@link SUBJECT_MAX_CHARS}, bare ("sunset hike"). */
  subject: string;
  /** The same phrase ready for running text ("the sunset hike", "our new shoes"). */
  theSubject: string;
  /** The description's short first sentence, used only as a sentence of its own; else the subject. */
  scene: string;
  /** The description's other noun phrases, ready for running text, for `{term}`. */
  secondary: string[];
  /** Nouns and names, lower case, most important first (for scores). */
  keyTerms: string[];
  /** Numbers of the description as written. */
  numbers: string[];
  /** Topic emojis of the description (e.g. a wave for "ocean"). */
  topicEmojis: string[];
  /** Adjectives matching `brand_info.voice`. */
  voiceAdjectives: string[];
  brandName?: string;
  /** Hashtag tiers, before each variation's shuffle. */
  tags: Omit<HashtagTiers, 'short'>;
  /** What a hashtag of this request may be grounded in. */
  ground: HashtagGround;
}

const CONNECTOR = /^(?:de|del|do|da|dos|das|di|della|dello|degli|delle|dei|du|des|d['’]|von|vom|of|à|au|aux|al|alla)$/iu;

/** A phrase that fits the subject's room whole; a name is never cut, a longer phrase keeps its head noun. */
function fitPhrase(p: NounPhrase, headFirst: boolean): NounPhrase | undefined {
  if (charCount(p.determined) <= SUBJECT_MAX_CHARS + 6 && charCount(p.text) <= SUBJECT_MAX_CHARS) return p;
  if (p.entity) return undefined;
  const ws = p.text.split(' ');
  // Drop modifiers from the far side of the head until it fits; the head itself stays.
  while (ws.length > 1 && charCount(ws.join(' ')) > SUBJECT_MAX_CHARS) {
    if (headFirst) ws.pop();
    else ws.shift();
  }
  // A connector left at the edge ("colección de tênis de") goes too.
  while (ws.length > 1 && CONNECTOR.test(headFirst ? ws.at(-1)! : ws[0]!)) {
    if (headFirst) ws.pop();
    else ws.shift();
  }
  const text = ws.join(' ');
  if (charCount(text) > SUBJECT_MAX_CHARS) return undefined;
  const determiner = p.determined.slice(0, Math.max(0, p.determined.length - p.text.length));
  return { ...p, text, determined: `${determiner}${text}` };
}

/** The topic entry of a noun (own keys only: a description word such as "constructor" must not reach Object.prototype). */
function topicOf(bank: PhraseBank, noun: string) {
  const key = [noun, noun.replace(/e?s$/u, '')].find((k) => Object.hasOwn(bank.topics, k));
  return key === undefined ? undefined : bank.topics[key];
}

export function analyse(request: CaptionGenerationRequest, bank: PhraseBank): CaptionAnalysis {
  const parsed: ParsedDescription = bank.parse(stripEmoji(request.content_description));
  const headFirst = bank.code !== 'en' && bank.code !== 'de';
  const fitted = parsed.phrases.map((p) => fitPhrase(p, headFirst)).filter((p): p is NounPhrase => p !== undefined);
  // A one-word phrase that is only an adjective-like leftover is still a noun by the parser; prefer a phrase with a content noun.
  const main = fitted[0];
  const subject = main?.text ?? bank.fallbackSubject;
  const theSubject = main?.determined ?? bank.fallbackSubject;
  const scene = parsed.scene ?? subject;

  const topicTags: string[] = [];
  const topicEmojis: string[] = [];
  for (const noun of parsed.nouns) {
    const topic = topicOf(bank, noun);
    if (!topic) continue;
    topicTags.push(...topic.tags);
    if (!topicEmojis.includes(topic.emoji)) topicEmojis.push(topic.emoji);
  }

  // Tags: whole names, then noun phrases joined (at most three words, no digits), then single nouns.
  const entityWords = new Set(parsed.phrases.filter((p) => p.entity && p.words.length > 1).flatMap((p) => p.words));
  const phraseTags = parsed.phrases.flatMap((p) => {
    if (p.entity) return [p.tag ?? p.words.join('')];
    const content = p.words.filter((w) => !/\p{N}/u.test(w));
    return content.length > 1 && content.length <= 3 ? [p.tag && !/\p{N}/u.test(p.tag) ? p.tag : content.join('')] : [];
  });
  const nounTags = parsed.nouns.filter((n) => charCount(n) >= 3 && !entityWords.has(n) && !/\p{N}/u.test(n));
  const descriptionTags = [...phraseTags.slice(0, 3), ...nounTags, ...phraseTags.slice(3)];

  const brand = request.brand_info;
  const brandName = brand?.name ? plainClause(brand.name) || undefined : undefined;
  const brandTags = [...(brand?.keywords ?? []), ...(brandName ? [brandName] : [])];
  const voiceAdjectives = brand?.voice ? bank.voices.filter((v) => v.match.test(brand.voice!)).flatMap((v) => v.adjectives) : [];
  const audience = bank.audiences[request.audience];
  const content = bank.contentTypes[request.content_type];
  const curated = [...bank.styleTags[request.style], ...audience.tags, ...content.tags];

  const subjectLower = subject.toLowerCase();
  return {
    subject,
    theSubject,
    scene,
    secondary: fitted.slice(1).filter((p) => !subjectLower.includes(p.text.toLowerCase()) && !p.text.toLowerCase().includes(subjectLower)).map((p) => p.determined),
    keyTerms: parsed.nouns,
    numbers: parsed.numbers,
    topicEmojis,
    voiceAdjectives,
    brandName,
    tags: {
      description: descriptionTags.filter((t) => toHashtag(t) !== undefined),
      brand: brandTags.filter((t) => toHashtag(t) !== undefined),
      topics: topicTags,
      curated,
    },
    ground: hashtagGround(parsed, { topicTags, brand: brandTags, fallback: [...curated, ...bank.shortTags] }),
  };
}
