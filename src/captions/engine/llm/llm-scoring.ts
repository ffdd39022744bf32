import type { CaptionGenerationRequest } from '../../dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../../dto/caption-generation-response.dto.js';
import { analyse } from '../caption-analysis.js';
import { assessCaption, engagementPrediction } from '../caption-scoring.js';
import { tagSet, type HashtagGround } from '../grounding.js';
import { OFFLINE_BANKS } from '../languages/offline-banks.js';
import { charCount, emojiCount, stripEmoji } from '../text-analysis.js';
import type { CheckedDraft } from './draft-check.js';
import { postLength } from './draft-check.js';
import { HOOK_CHARS } from '../template-caption.engine.js';

const LOCALES: Record<CaptionGenerationRequest['language'], string> = {
  english: 'en',
  spanish: 'es',
  french: 'fr',
  german: 'de',
  italian: 'it',
  portuguese: 'pt',
  russian: 'ru',
  japanese: 'ja',
  korean: 'ko',
  chinese: 'zh',
};

/** Words as the language's own segmenter sees them (Chinese and Japanese have no spaces). */
export function segmentWords(text: string, language: CaptionGenerationRequest['language']): string[] {
  const segmenter = new Intl.Segmenter(LOCALES[language], { granularity: 'word' });
  return [...segmenter.segment(text)].filter((s) => s.isWordLike).map((s) => s.segment);
}

/** The description's most telling words: the longest distinct ones, lower case (CJK: two characters or more). */
export function keyTermsOf(request: CaptionGenerationRequest, limit = 5): string[] {
  const cjk = ['japanese', 'chinese', 'korean'].includes(request.language);
  const min = cjk ? 2 : 4;
  const all = segmentWords(request.content_description.toLowerCase(), request.language).filter((w) => charCount(w) >= min && !/^\d+$/.test(w));
  return [...new Set(all)].sort((a, b) => charCount(b) - charCount(a)).slice(0, limit);
}

/**
 * Reading ease (0–100) for a language without an offline bank (and so without a formula here): a
 * sentence-length measure, 100 at 8 words or fewer per sentence, falling to 0 at 40.
 */
function sentenceLengthEase(text: string, language: CaptionGenerationRequest['language']): number {
  const sentences = Math.max(1, text.split(/[.!?。！？\n]+/u).filter((s) => s.trim() !== '').length);
  const perSentence = segmentWords(text, language).length / sentences;
  return Math.min(100, Math.max(0, 100 - Math.max(0, perSentence - 8) * (100 / 32)));
}

/**
 * The scores of a checked LLM draft, by the offline engine's rubric (caption-scoring.ts). For a
 * language with an offline bank, the draft is judged with that bank's parser, stop words,
 * readability formula and the request's parsed description (so a tag from a verb or a piece of a
 * number is penalised as it is offline); for the others, the description's segmented words ground
 * the tags and a sentence-length measure stands in for a readability formula.
 */
export function scoreDraft(draft: CheckedDraft, request: CaptionGenerationRequest): CaptionVariation {
  const text = draft.caption;
  const bank = OFFLINE_BANKS[request.language];
  const analysis = bank ? analyse(request, bank) : undefined;
  const brand = [request.brand_info?.name ?? '', ...(request.brand_info?.keywords ?? [])].filter((b) => b !== '');
  const ground: HashtagGround = analysis?.ground ?? {
    description: tagSet(segmentWords(request.content_description, request.language)),
    stems: keyTermsOf(request),
    brand: tagSet(brand),
    fallback: new Set(),
    verbs: [],
  };
  const report = assessCaption({
    text,
    hashtags: draft.hashtags,
    language: request.language,
    style: request.style,
    contentType: request.content_type,
    keyTerms: analysis?.keyTerms ?? keyTermsOf(request),
    numbers: analysis?.numbers ?? [],
    ground,
    bank,
    readability: bank ? undefined : sentenceLengthEase(stripEmoji(text), request.language),
    allowedRepeats: analysis?.brandName ? [analysis.brandName] : [],
    includeHashtags: request.include_hashtags,
    includeEmojis: request.include_emojis,
    includeCta: request.include_cta,
    hasCta: request.include_cta && /[?？!！]\s*\S{0,3}\s*$/u.test(text.trim()),
    hookChars: HOOK_CHARS,
  });
  return {
    caption: text,
    hashtags: draft.hashtags,
    quality_score: report.score,
    engagement_prediction: engagementPrediction(report.score, request.content_type),
    readability_score: report.readability,
    word_count: segmentWords(stripEmoji(text), request.language).length,
    character_count: postLength(text, draft.hashtags),
    emoji_count: emojiCount(text),
  };
}
