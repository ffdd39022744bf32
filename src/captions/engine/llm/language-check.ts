import type { Language } from '../../dto/caption-options.js';
import { detectLanguage } from '../language-id.js';

const LATIN_LANGUAGES: ReadonlySet<Language> = new Set(['english', 'spanish', 'french', 'german', 'italian', 'portuguese']);

const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;

/**
 * Whether `text` is written in `language`, as far as a short caption lets anyone tell. Scripts
 * decide first (Cyrillic for Russian; kana for Japanese; Hangul for Korean; Han without kana or
 * Hangul for Chinese; Latin letters for the rest); among the Latin-script languages the n-gram
 * identifier of the offline engine (`detectLanguage`, eld) decides, and only when it is sure and
 * names another language of that group (a caption too short to tell passes).
 */
export function isInLanguage(text: string, language: Language): boolean {
  const letters = count(text, /\p{L}/gu);
  if (letters === 0) return false;
  const share = (re: RegExp) => count(text, re) / letters;
  const kana = share(/[\p{Script=Hiragana}\p{Script=Katakana}]/gu);
  const hangul = share(/\p{Script=Hangul}/gu);
  const han = share(/\p{Script=Han}/gu);
  switch (language) {
    case 'russian':
      return share(/\p{Script=Cyrillic}/gu) >= 0.6;
    case 'japanese':
      return kana > 0.05 && kana + han >= 0.6;
    case 'korean':
      return hangul >= 0.6;
    case 'chinese':
      return han >= 0.6 && kana === 0 && hangul === 0;
    default: {
      if (share(/\p{Script=Latin}/gu) < 0.8) return false;
      const detected = detectLanguage(text);
      return detected === undefined || detected === language || !LATIN_LANGUAGES.has(detected);
    }
  }
}
