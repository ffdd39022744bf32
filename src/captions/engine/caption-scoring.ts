import type { CaptionStyle, ContentType } from '../dto/caption-options.js';
import { charCount, emojiCount, words } from './text-analysis.js';

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

/** Weights of `quality_score` (they sum to 100). */
export const QUALITY_WEIGHTS = { keywords: 30, length: 20, readability: 20, hashtags: 15, emojis: 10, cta: 5 } as const;

export interface ScoreInput {
  text: string;
  style: CaptionStyle;
  contentType: ContentType;
  /** The description's top key terms (lower case). */
  keyTerms: string[];
  readability: number;
  hashtags: string[];
  /** How many of `hashtags` come from the description, the brand or the description's topics. */
  relevantHashtags: number;
  includeHashtags: boolean;
  includeEmojis: boolean;
  includeCta: boolean;
  hasCta: boolean;
}

/** 1 inside [lo, hi], falling linearly to 0 at half of `lo` and at twice `hi`. */
function bandFit(value: number, [lo, hi]: [number, number]): number {
  if (value >= lo && value <= hi) return 1;
  if (value < lo) return Math.max(0, (value - lo / 2) / (lo / 2));
  return Math.max(0, 1 - (value - hi) / hi);
}

/**
 * `quality_score`, 0–100: the weighted sum of six measured properties, each 0–1 —
 * keyword coverage (share of the top key terms found in the text), length fit (the content
 * type's ideal band; minimalist 5–60), readability (Flesch ÷ 60, capped at 1), hashtag relevance
 * (relevant tags among the first five), emoji density (at least one, at most one per five words, when emojis are
 * on, none when off) and CTA (present when asked; 0.5 when not asked, since a CTA draws replies).
 */
export function qualityScore(input: ScoreInput): number {
  const lower = input.text.toLowerCase();
  const terms = input.keyTerms.slice(0, 3);
  const coverage = terms.length === 0 ? 1 : terms.filter((t) => lower.includes(t)).length / terms.length;
  const band: [number, number] = input.style === 'minimalist' ? [5, 60] : IDEAL_LENGTH[input.contentType];
  const length = bandFit(charCount(input.text), band);
  const readability = Math.min(1, input.readability / 60);
  const wanted = Math.min(5, input.hashtags.length);
  const hashtags = !input.includeHashtags || wanted === 0 ? 1 : Math.min(1, input.relevantHashtags / wanted);
  const wordCount = Math.max(1, words(input.text).length);
  const emojis = emojiCount(input.text);
  const perWord = emojis / wordCount;
  const emojiFit = input.includeEmojis ? (emojis > 0 && perWord <= 1 / 5 + 1e-9 ? 1 : emojis > 0 ? 0.5 : 0) : emojis === 0 ? 1 : 0;
  const cta = input.includeCta ? (input.hasCta ? 1 : 0) : 0.5;
  const w = QUALITY_WEIGHTS;
  const score =
    w.keywords * coverage + w.length * length + w.readability * readability + w.hashtags * hashtags + w.emojis * emojiFit + w.cta * cta;
  return Math.round(score * 10) / 10;
}

/** `engagement_prediction`, 0–1: quality ÷ 100 × the content type's relative reach. */
export function engagementPrediction(quality: number, contentType: ContentType): number {
  return Math.round((quality / 100) * CONTENT_TYPE_REACH[contentType] * 1000) / 1000;
}
