import type { Language } from '../dto/caption-options.js';
import { nlpLibraries, type NlpLibraries } from './nlp-libraries.js';

/** ISO 639-1 code of each request language. */
export const LANGUAGE_CODES: Record<Language, string> = {
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
const BY_CODE = new Map(Object.entries(LANGUAGE_CODES).map(([language, code]) => [code, language as Language]));

// eld's smallest database, loaded from the package on first use (no network), restricted to the
// request languages: a caption is judged against the ten it could be in, never against Bulgarian.
let detector: ReturnType<NlpLibraries['eld']['newInstance']> | undefined;
function detectorNow(): NonNullable<typeof detector> {
  if (detector) return detector;
  detector = nlpLibraries().eld.newInstance();
  detector.setLanguageSubset([...BY_CODE.keys()]);
  return detector;
}

/** Fewer letters than this say too little to judge a language by. */
const MIN_LETTERS = 30;

/**
 * The language `text` is written in, among the request languages, by eld's n-gram detector;
 * undefined when the text holds too few letters to tell, or eld finds its answer unreliable
 * (hashtags, mentions and URLs are ignored). Meant for checking a caption: a draft whose language is defined and differs from the
 * request's is in the wrong language.
 */
export function detectLanguage(text: string): Language | undefined {
  const plain = text.replace(/[#@]\S+|https?:\/\/\S+/gu, ' ');
  if ((plain.match(/\p{L}/gu)?.length ?? 0) < MIN_LETTERS) return undefined;
  const result = detectorNow().detect(plain);
  return result.isReliable() ? BY_CODE.get(result.language) : undefined;
}
