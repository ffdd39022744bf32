import type { CaptionStyle, ContentType, Language } from '../dto/caption-options.js';
import { groundedHashtags, numberFragments, type HashtagGround } from './grounding.js';
import { detectLanguage } from './language-id.js';
import type { PhraseBank } from './phrase-bank.js';
import { sentenceProblems } from './sentence-check.js';
import { charCount, emojiCount, openingSentence, words } from './text-analysis.js';

/** Ideal caption-text length (code points, hashtags excluded) per content type. */
export const IDEAL_LENGTH: Record<ContentType, [number, number]> = {
  post: [70, 300],
  carousel: [80, 300],
  reel: [40, 160],
  story: [15, 90],
  igtv: [80, 400],
  highlight: [10, 60],
};

/** Relative reach of each content type, used to turn quality into an engagement prediction. */
export const CONTENT_TYPE_REACH: Record<ContentType, number> = {
  reel: 0.9,
  carousel: 0.85,
  post: 0.75,
  igtv: 0.65,
  story: 0.6,
  highlight: 0.5,
};

/** Weights of the measured part of `quality_score` (they sum to 100). */
export const QUALITY_WEIGHTS = { keywords: 30, length: 20, readability: 20, hashtags: 15, emojis: 10, cta: 5 } as const;

/** Points taken off for what a reader would stop at, each capped (see {@link assessCaption}). */
export const PENALTIES = {
  /** Per broken sentence (no verb where one is needed, a dangling verb, a bare noun, a split number), at most 3. */
  brokenSentence: 20,
  /** Per content word used twice or more, at most 3. */
  repeatedWord: 5,
  /** Per hashtag the request gives no reason for, at most 3. */
  ungroundedHashtag: 10,
  /** When the opening sentence runs past the hook. */
  longHook: 20,
  /** When the text is in another language than asked. */
  wrongLanguage: 40,
} as const;

export interface ScoreInput {
  text: string;
  hashtags: string[];
  language: Language;
  style: CaptionStyle;
  contentType: ContentType;
  /** The description's key terms (lower case), most important first. */
  keyTerms: string[];
  /** Numbers of the description as written ("20%"). */
  numbers: readonly string[];
  ground: HashtagGround;
  /** The language's bank when there is one (sentence checks, stop words, readability); without it those parts are neutral. */
  bank?: Pick<PhraseBank, 'code' | 'parse' | 'stopWords' | 'readability'>;
  /** Reading ease (0–100) measured by the caller, for a language without a bank; neutral (60) when absent too. */
  readability?: number;
  /** Words that may repeat (the brand's name). */
  allowedRepeats?: readonly string[];
  includeHashtags: boolean;
  includeEmojis: boolean;
  includeCta: boolean;
  hasCta: boolean;
  /** Characters shown before "more". */
  hookChars: number;
}

export interface QualityPenalty {
  rule: keyof typeof PENALTIES;
  points: number;
  detail: string;
}

export interface QualityReport {
  /** 0–100: `measured` less the penalties, never below 0, one decimal. */
  score: number;
  /** The weighted measures before penalties. */
  measured: number;
  readability: number;
  penalties: QualityPenalty[];
}

/** 1 inside [lo, hi], falling linearly to 0 at half of `lo` and at twice `hi`. */
function bandFit(value: number, [lo, hi]: [number, number]): number {
  if (value >= lo && value <= hi) return 1;
  if (value < lo) return Math.max(0, (value - lo / 2) / (lo / 2));
  return Math.max(0, 1 - (value - hi) / hi);
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * `quality_score` and why. The measured part (0–100) weighs keyword coverage (share of the top
 * three key terms in the text), length fit (the content type's band; minimalist 5–60), readability
 * (the language's formula ÷ 60, capped at 1), hashtag grounding (tags from the description or the
 * brand count 1, filler tags 0.5, others 0, among the first five), emoji fit and CTA. Then it takes
 * off what a reader would stop at: broken sentences, repeated words, ungrounded hashtags, a hook
 * past `hookChars`, another language (see {@link PENALTIES}).
 */
export function assessCaption(input: ScoreInput): QualityReport {
  const lower = input.text.toLowerCase();
  const terms = input.keyTerms.slice(0, 3);
  const coverage = terms.length === 0 ? 1 : terms.filter((t) => lower.includes(t)).length / terms.length;
  const band: [number, number] = input.style === 'minimalist' ? [5, 60] : IDEAL_LENGTH[input.contentType];
  const length = bandFit(charCount(input.text), band);
  const readability = round1(Math.min(100, Math.max(0, input.bank?.readability(input.text) ?? input.readability ?? 60)));
  const sources = groundedHashtags(input.hashtags, input.ground);
  const firstFive = input.hashtags.slice(0, 5);
  const five = groundedHashtags(firstFive, input.ground);
  const hashtags = !input.includeHashtags || firstFive.length === 0 ? 1 : (five.grounded.length + five.fallback.length * 0.5) / firstFive.length;
  const wordCount = Math.max(1, words(input.text).length);
  const emojis = emojiCount(input.text);
  const emojiFit = input.includeEmojis ? (emojis > 0 && emojis / wordCount <= 1 / 5 + 1e-9 ? 1 : emojis > 0 ? 0.5 : 0) : emojis === 0 ? 1 : 0;
  const cta = input.includeCta ? (input.hasCta ? 1 : 0) : 0.5;
  const w = QUALITY_WEIGHTS;
  const measured =
    w.keywords * coverage + w.length * length + w.readability * Math.min(1, readability / 60) + w.hashtags * hashtags + w.emojis * emojiFit + w.cta * cta;

  const penalties: QualityPenalty[] = [];
  const add = (rule: keyof typeof PENALTIES, details: string[], cap = 3) => {
    for (const detail of details.slice(0, cap)) penalties.push({ rule, points: PENALTIES[rule], detail });
  };
  if (input.bank) {
    const broken = sentenceProblems(input.text, input.bank).map((p) => `${p.problem}: ${p.sentence}`);
    const fragments = numberFragments(input.text, input.numbers).map((n) => `number-fragment: ${n}`);
    add('brokenSentence', [...broken, ...fragments]);
    add('repeatedWord', repeatedWords(input.text, input.bank.stopWords, input.allowedRepeats ?? []));
  }
  add('ungroundedHashtag', sources.ungrounded);
  const hook = charCount(openingSentence(input.text));
  if (hook > input.hookChars) add('longHook', [`${hook} characters before the first stop`]);
  const detected = detectLanguage(input.text);
  if (detected !== undefined && detected !== input.language) add('wrongLanguage', [`reads as ${detected}`]);

  const taken = penalties.reduce((sum, p) => sum + p.points, 0);
  return { score: round1(Math.max(0, measured - taken)), measured: round1(measured), readability, penalties };
}

/** The score alone (see {@link assessCaption}). */
export function qualityScore(input: ScoreInput): number {
  return assessCaption(input).score;
}

/** Content words (not stop words, at least 3 letters) that the text uses more than once, brand words aside. */
export function repeatedWords(text: string, stopWords: ReadonlySet<string>, allowed: readonly string[] = []): string[] {
  const skip = new Set(allowed.flatMap((a) => words(a.toLowerCase())));
  const seen = new Map<string, number>();
  for (const w of words(text.toLowerCase())) {
    if (w.length < 3 || stopWords.has(w) || skip.has(w) || /^\p{N}/u.test(w)) continue;
    seen.set(w, (seen.get(w) ?? 0) + 1);
  }
  return [...seen.entries()].filter(([, n]) => n > 1).map(([w]) => w);
}

/** `engagement_prediction`, 0–1: quality ÷ 100 × the content type's relative reach. */
export function engagementPrediction(quality: number, contentType: ContentType): number {
  return Math.round((quality / 100) * CONTENT_TYPE_REACH[contentType] * 1000) / 1000;
}
