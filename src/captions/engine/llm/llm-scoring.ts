import type { CaptionGenerationRequest } from '../../dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../../dto/caption-generation-response.dto.js';
import { engagementPrediction, qualityScore } from '../caption-scoring.js';
import { charCount, emojiCount, fernandezHuerta, fleschReadingEase, stripEmoji } from '../text-analysis.js';
import type { CheckedDraft } from './draft-check.js';
import { postLength } from './draft-check.js';

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
 * Reading ease, 0–100: Flesch for English and Fernández Huerta for Spanish (the formulas the
 * offline engine reports); for other languages a sentence-length measure (100 at 8 words or fewer
 * per sentence, falling to 0 at 40), as no syllable formula is implemented for them here.
 */
function readability(text: string, language: CaptionGenerationRequest['language']): number {
  const raw =
    language === 'english'
      ? fleschReadingEase(text)
      : language === 'spanish'
        ? fernandezHuerta(text)
        : (() => {
            const sentences = Math.max(1, text.split(/[.!?。！？\n]+/u).filter((s) => s.trim() !== '').length);
            const perSentence = segmentWords(text, language).length / sentences;
            return 100 - Math.max(0, perSentence - 8) * (100 / 32);
          })();
  return Math.round(Math.min(100, Math.max(0, raw)) * 10) / 10;
}

/** The scores of a checked LLM draft, by the same rubric as the offline engine's variations. */
export function scoreDraft(draft: CheckedDraft, request: CaptionGenerationRequest): CaptionVariation {
  const text = draft.caption;
  const source = [request.content_description, request.brand_info?.name ?? '', ...(request.brand_info?.keywords ?? [])].join(' ').toLowerCase();
  const squeezed = source.replace(/[\s_-]+/g, '');
  const relevant = draft.hashtags.filter((t) => squeezed.includes(t.slice(1).toLowerCase().replace(/_/g, ''))).length;
  const read = readability(stripEmoji(text), request.language);
  const quality = qualityScore({
    text,
    style: request.style,
    contentType: request.content_type,
    keyTerms: keyTermsOf(request),
    readability: read,
    hashtags: draft.hashtags,
    relevantHashtags: relevant,
    includeHashtags: request.include_hashtags,
    includeEmojis: request.include_emojis,
    includeCta: request.include_cta,
    hasCta: request.include_cta && /[?？!！]\s*\S{0,3}\s*$/u.test(text.trim()),
  });
  return {
    caption: text,
    hashtags: draft.hashtags,
    quality_score: quality,
    engagement_prediction: engagementPrediction(quality, request.content_type),
    readability_score: read,
    word_count: segmentWords(stripEmoji(text), request.language).length,
    character_count: postLength(text, draft.hashtags),
    emoji_count: emojiCount(text),
  };
}
