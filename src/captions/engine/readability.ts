/**
 * Reading-ease formulas from the literature, one per language, each clamped to 0–100 (higher is
 * easier); text without words scores 0. Syllables are counted by vowel groups with each language's
 * usual corrections: good enough for a caption's few sentences, not a hyphenation dictionary.
 */
import { sentenceCount, stripEmoji, words } from './text-analysis.js';

const clamp = (score: number) => Math.min(100, Math.max(0, score));

interface Counts {
  words: number;
  sentences: number;
  syllables: number;
  letters: number;
}

function counts(text: string, syllables: (word: string) => number): Counts | undefined {
  const ws = words(stripEmoji(text));
  if (ws.length === 0) return undefined;
  return {
    words: ws.length,
    sentences: sentenceCount(text),
    syllables: ws.reduce((sum, w) => sum + syllables(w), 0),
    letters: ws.reduce((sum, w) => sum + (w.match(/\p{L}|\p{N}/gu)?.length ?? 0), 0),
  };
}

const groups = (word: string, vowels: RegExp) => word.toLowerCase().match(vowels)?.length ?? 0;

/** English syllables by vowel groups, with the usual silent-e and -le corrections. */
export function englishSyllables(word: string): number {
  const w = word.toLowerCase().replace(/[^a-z]/g, '');
  if (w.length === 0) return 0;
  if (w.length <= 3) return 1;
  const trimmed = w.replace(/(?:[^laeiouy]es|ed|[^laeiouy]e)$/, '').replace(/^y/, '');
  return Math.max(1, groups(trimmed, /[aeiouy]{1,2}/g));
}

/** Spanish syllables: vowel groups, split where two strong (or accented) vowels meet (hiatus). */
export function spanishSyllables(word: string): number {
  const gs = word.toLowerCase().match(/[aeiouáéíóúü]+/g) ?? [];
  let n = 0;
  for (const g of gs) {
    n += 1;
    for (let i = 1; i < g.length; i++) if (/[aeoáéíóú]/.test(g[i - 1]!) && /[aeoáéíóú]/.test(g[i]!)) n += 1;
  }
  return Math.max(1, n);
}

/** French syllables: vowel groups, less a silent final -e, -es or -ent. */
export function frenchSyllables(word: string): number {
  const w = word.toLowerCase().replace(/(?<=\p{L}{2})(?:e|es|ent)$/u, '');
  return Math.max(1, groups(w, /[aeiouyàâäéèêëîïôöûùüÿœæ]+/gu));
}

/** German syllables: vowel groups (diphthongs and long vowels such as ei, au, ie, ee count once). */
export function germanSyllables(word: string): number {
  return Math.max(1, groups(word, /[aeiouyäöü]+/gu));
}

/** Italian syllables: vowel groups (an unstressed i or u next to a vowel glides into it). */
export function italianSyllables(word: string): number {
  return Math.max(1, groups(word, /[aeiouàèéìíòóù]+/gu));
}

/** Portuguese syllables: vowel groups, nasal diphthongs (ão, õe, ãe) once. */
export function portugueseSyllables(word: string): number {
  return Math.max(1, groups(word, /[aeiouáéíóúâêôãõàü]+/gu));
}

/**
 * Flesch reading ease (Flesch 1948), English:
 * 206.835 − 1.015 × (words ÷ sentences) − 84.6 × (syllables ÷ words).
 */
export function fleschReadingEase(text: string): number {
  const c = counts(text, englishSyllables);
  return c ? clamp(206.835 - 1.015 * (c.words / c.sentences) - 84.6 * (c.syllables / c.words)) : 0;
}

/**
 * Fernández Huerta (1959) reading ease, Spanish (Flesch adapted):
 * 206.84 − 0.60 × syllables per 100 words − 1.02 × words per sentence.
 */
export function fernandezHuerta(text: string): number {
  const c = counts(text, spanishSyllables);
  return c ? clamp(206.84 - 0.6 * ((c.syllables / c.words) * 100) - 1.02 * (c.words / c.sentences)) : 0;
}

/**
 * Kandel & Moles (1958) reading ease, French (Flesch adapted):
 * 207 − 1.015 × (words ÷ sentences) − 73.6 × (syllables ÷ words).
 */
export function kandelMoles(text: string): number {
  const c = counts(text, frenchSyllables);
  return c ? clamp(207 - 1.015 * (c.words / c.sentences) - 73.6 * (c.syllables / c.words)) : 0;
}

/**
 * Amstad (1978) reading ease, German (Flesch adapted):
 * 180 − (words ÷ sentences) − 58.5 × (syllables ÷ words).
 */
export function amstad(text: string): number {
  const c = counts(text, germanSyllables);
  return c ? clamp(180 - c.words / c.sentences - 58.5 * (c.syllables / c.words)) : 0;
}

/**
 * Gulpease index (Lucisano & Piemontese 1988), Italian, counted in letters rather than syllables:
 * 89 + (300 × sentences − 10 × letters) ÷ words.
 */
export function gulpease(text: string): number {
  const c = counts(text, italianSyllables);
  return c ? clamp(89 + (300 * c.sentences - 10 * c.letters) / c.words) : 0;
}

/**
 * Flesch reading ease adapted to Brazilian Portuguese (Martins, Ghiraldelo, Nunes & Oliveira Jr. 1996):
 * 248.835 − 1.015 × (words ÷ sentences) − 84.6 × (syllables ÷ words).
 */
export function martinsFlesch(text: string): number {
  const c = counts(text, portugueseSyllables);
  return c ? clamp(248.835 - 1.015 * (c.words / c.sentences) - 84.6 * (c.syllables / c.words)) : 0;
}
