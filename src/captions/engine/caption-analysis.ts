import type { CaptionGenerationRequest } from '../dto/caption-generation-request.dto.js';
import { toHashtag, type HashtagTiers } from './hashtag-picker.js';
import type { PhraseBank } from './phrase-bank.js';
import { charCount, extractKeyTerms, stripEmoji, words } from './text-analysis.js';

/** The subject is short enough that the shortest caption (subject, emoji, CTA) always fits. */
export const SUBJECT_MAX_CHARS = 24;

/** What the engine understood of one request; shared by all its variations. */
export interface CaptionAnalysis {
  /** The description's first key phrase, at most {@link SUBJECT_MAX_CHARS}. */
  subject: string;
  /** The description's first sentence when it is short and holds the subject, else the subject. */
  scene: string;
  /** The description's other key phrases, for `{term}`. */
  secondary: string[];
  /** Content words, lower case, most important first (for scores). */
  keyTerms: string[];
  /** Topic emojis of the description (e.g. a wave for "ocean"). */
  topicEmojis: string[];
  /** Adjectives matching `brand_info.voice`. */
  voiceAdjectives: string[];
  brandName?: string;
  /** Hashtag tiers, before each variation's shuffle. */
  tags: Omit<HashtagTiers, 'short'>;
}

/**
 * Shortens a phrase to {@link SUBJECT_MAX_CHARS}, keeping its head noun: the last words in English
 * ("fresh strawberry pancakes"), the first in Spanish ("tortitas de fresa").
 */
function shortenPhrase(phraseWords: string[], headFirst: boolean): string {
  const kept: string[] = [];
  const ordered = headFirst ? phraseWords : [...phraseWords].reverse();
  for (const w of ordered) {
    const next = headFirst ? [...kept, w] : [w, ...kept];
    if (charCount(next.join(' ')) > SUBJECT_MAX_CHARS) break;
    kept.splice(0, kept.length, ...next);
  }
  return kept.join(' ');
}

/** Letters, digits and light punctuation only: the scene never smuggles markup, tags or mentions into a caption. */
function plainClause(text: string): string {
  return stripEmoji(text)
    .replace(/[^\p{L}\p{N}\s'’&,-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function analyse(request: CaptionGenerationRequest, bank: PhraseBank): CaptionAnalysis {
  // Some pictographs are also letters (ℹ): they never become words of a caption.
  const { phrases, terms: allTerms } = extractKeyTerms(stripEmoji(request.content_description), bank.stopWords, bank.connectors);
  const [first, second] = words(request.content_description);
  const opensWithVerb =
    phrases.length > 1 &&
    phrases[0]!.words.length === 1 &&
    first !== undefined &&
    bank.leadingVerb.verb.test(first) &&
    bank.leadingVerb.determiners.has(second?.toLowerCase() ?? '');
  if (opensWithVerb) phrases.shift();
  // The verb is not a key term either: not scored as missing, not a hashtag.
  const terms = opensWithVerb ? allTerms.filter((t) => t !== first.toLowerCase()) : allTerms;
  const subject = (phrases.length > 0 && shortenPhrase(phrases[0]!.words, bank.headFirst)) || bank.fallbackSubject;

  const firstSentence = plainClause(request.content_description.split(/[.!?\n]/u)[0] ?? '');
  const sceneFits = words(firstSentence).length <= 8 && charCount(firstSentence) <= 60 && firstSentence.toLowerCase().includes(subject.toLowerCase());
  let scene = sceneFits ? firstSentence : subject;
  if (/^\p{Lu}\p{Ll}/u.test(scene)) scene = scene[0]!.toLowerCase() + scene.slice(1);

  const topicTags: string[] = [];
  const topicEmojis: string[] = [];
  for (const term of terms) {
    // Own keys only: a description word such as "constructor" must not reach Object.prototype.
    const key = [term, term.replace(/e?s$/, '')].find((k) => Object.hasOwn(bank.topics, k));
    const topic = key === undefined ? undefined : bank.topics[key];
    if (!topic) continue;
    topicTags.push(...topic.tags);
    if (!topicEmojis.includes(topic.emoji)) topicEmojis.push(topic.emoji);
  }

  const descriptionTags = [
    ...phrases.filter((p) => p.words.length > 1).slice(0, 3).map((p) => p.words.join('')),
    ...terms.filter((t) => charCount(t) >= 3),
    ...phrases.slice(3).filter((p) => p.words.length > 1).map((p) => p.words.join('')),
  ];
  const brand = request.brand_info;
  const brandName = brand?.name ? plainClause(brand.name) || undefined : undefined;
  const brandTags = [...(brand?.keywords ?? []), ...(brandName ? [brandName] : [])];
  const voiceAdjectives = brand?.voice ? bank.voices.filter((v) => v.match.test(brand.voice!)).flatMap((v) => v.adjectives) : [];
  const audience = bank.audiences[request.audience];
  const content = bank.contentTypes[request.content_type];

  return {
    subject,
    scene,
    secondary: phrases.slice(1).map((p) => p.text).filter((t) => !subject.toLowerCase().includes(t.toLowerCase())),
    keyTerms: terms,
    topicEmojis,
    voiceAdjectives,
    brandName,
    tags: {
      description: descriptionTags.filter((t) => toHashtag(t) !== undefined),
      brand: brandTags.filter((t) => toHashtag(t) !== undefined),
      topics: topicTags,
      curated: [...bank.styleTags[request.style], ...audience.tags, ...content.tags],
    },
  };
}
