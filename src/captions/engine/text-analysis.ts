/**
 * Language-independent text measures, plus the English key-term extraction and Flesch reading
 * ease that the template engine and its scores use.
 */

const EMOJI = /\p{Extended_Pictographic}/gu;
const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;
/** Longer "words" are noise (URLs, pasted hashes): never a key term. */
const MAX_TERM_CHARS = 24;

/** Unicode code points: what `max_length` and `character_count` count. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

export function emojiCount(text: string): number {
  return text.match(EMOJI)?.length ?? 0;
}

export function stripEmoji(text: string): string {
  return text.replace(EMOJI, '').replace(/\uFE0F|\u200D/g, '');
}

export function words(text: string): string[] {
  return text.match(WORD) ?? [];
}

/** Cuts `text` to at most `max` code points at a word boundary (never inside a word). */
export function trimToWords(text: string, max: number): string {
  if (charCount(text) <= max) return text;
  const cps = [...text];
  let cut = cps.slice(0, max + 1).join('');
  const space = cut.lastIndexOf(' ');
  cut = space > 0 ? cut.slice(0, space) : '';
  return trimEnd(cut, TRAILING_PUNCTUATION);
}

/** What {@link trimToWords} drops from the end of a cut: white space and clause punctuation. */
const TRAILING_PUNCTUATION = /[\s,;:—–-]/u;

/**
 * `text` without the characters at its end that `drop` (a one-character class) matches. A walk
 * back from the end: `/[…]+$/` retries from every matching character and is quadratic on a long
 * run of them followed by anything else.
 */
function trimEnd(text: string, drop: RegExp): string {
  let end = text.length;
  while (end > 0 && drop.test(text[end - 1]!)) end -= 1;
  return text.slice(0, end);
}

const SENTENCE_MARK = /[.!?…]/u;
const SPACE = /\s/u;

/**
 * Sentences of `text`, at least one: runs of `.`, `!`, `?` or `…` followed by white space or the
 * end. One pass: a lookahead after a repeated class (`/[.!?…]+(?=\s|$)/g`) backtracks through the
 * whole run at every position of it, quadratic on a long run of dots followed by a letter.
 */
export function sentenceCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; ) {
    if (!SENTENCE_MARK.test(text[i]!)) {
      i += 1;
      continue;
    }
    let end = i + 1;
    while (end < text.length && SENTENCE_MARK.test(text[end]!)) end += 1;
    if (end === text.length || SPACE.test(text[end]!)) n += 1;
    i = end;
  }
  return Math.max(1, n);
}

/**
 * The first sentence of `text`, its closing marks included: up to the first run of `.`, `!`, `?`
 * or `…` followed by white space or the end (as {@link sentenceCount} counts them), or up to the
 * first line break, whichever comes first; all of `text` when neither occurs.
 */
export function openingSentence(text: string): string {
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === '\n') return text.slice(0, i);
    if (!SENTENCE_MARK.test(c)) {
      i += 1;
      continue;
    }
    let end = i + 1;
    while (end < text.length && SENTENCE_MARK.test(text[end]!)) end += 1;
    if (end === text.length || SPACE.test(text[end]!)) return text.slice(0, end);
    i = end;
  }
  return text;
}

/** A key phrase of the description: consecutive content words, as written. */
export interface KeyPhrase {
  text: string;
  words: string[];
}

export interface KeyTerms {
  /** Content-word runs in order of appearance, at most 3 words each. */
  phrases: KeyPhrase[];
  /** Distinct content words (lower case), most frequent first, then by position. */
  terms: string[];
}

/**
 * Key phrases and terms of a description: runs of words that are not stop words, cut at
 * punctuation, so "Beautiful sunset at the beach" gives "Beautiful sunset" and "beach".
 * Casing: a word keeps its capital only when it is not the first of a sentence (a name) or has
 * one inside (iPhone, NYC).
 */
export function extractKeyTerms(
  description: string,
  stopWords: ReadonlySet<string>,
  connectors: ReadonlySet<string> = new Set(),
): KeyTerms {
  const phrases: KeyPhrase[] = [];
  const freq = new Map<string, { n: number; first: number }>();
  let position = 0;
  for (const clause of description.split(/[.!?;:,()[\]{}"“”|/\\\n]+/u)) {
    let run: string[] = [];
    // A connector ("de") is kept only when a content word follows it.
    let pending: string[] = [];
    // A phrase holds at most 3 content words; connectors between them do not count.
    const flush = () => {
      let part: string[] = [];
      let content = 0;
      const emit = () => {
        while (part.length > 0 && connectors.has(part.at(-1)!.toLowerCase())) part.pop();
        if (part.length > 0) phrases.push({ text: part.join(' '), words: part });
        part = [];
        content = 0;
      };
      for (const w of run) {
        const isConnector = connectors.has(w.toLowerCase());
        if (isConnector && part.length === 0) continue;
        if (!isConnector && content === 3) emit();
        part.push(w);
        if (!isConnector) content += 1;
      }
      emit();
      run = [];
      pending = [];
    };
    const clauseWords = words(clause);
    clauseWords.forEach((raw, i) => {
      const lower = raw.toLowerCase();
      const isStop = stopWords.has(lower) || stopWords.has(lower.replace(/['’].*$/u, ''));
      if (isStop && connectors.has(lower) && run.length > 0 && pending.length === 0) {
        pending.push(lower);
        return;
      }
      if (isStop || charCount(raw) > MAX_TERM_CHARS || !/\p{L}/u.test(raw)) {
        // Numbers stay inside a phrase ("top 10 tips") but never start one or stand alone.
        if (!isStop && /^\p{N}+$/u.test(raw) && run.length > 0) {
          run.push(...pending, raw);
          pending = [];
        }
        else flush();
        return;
      }
      const keepCase = /\p{Lu}/u.test(raw.slice(1)) || (i > 0 && /^\p{Lu}/u.test(raw));
      const word = keepCase ? raw : lower;
      run.push(...pending, word);
      pending = [];
      const seen = freq.get(lower);
      if (seen) seen.n += 1;
      else freq.set(lower, { n: 1, first: position });
      position += 1;
    });
    flush();
  }
  const terms = [...freq.entries()].sort((a, b) => b[1].n - a[1].n || a[1].first - b[1].first).map(([w]) => w);
  return { phrases, terms };
}

/** English syllables by vowel groups, with the usual silent-e and -le corrections. */
export function englishSyllables(word: string): number {
  const w = word.toLowerCase().replace(/[^a-z]/g, '');
  if (w.length === 0) return 0;
  if (w.length <= 3) return 1;
  const trimmed = w.replace(/(?:[^laeiouy]es|ed|[^laeiouy]e)$/, '').replace(/^y/, '');
  const groups = trimmed.match(/[aeiouy]{1,2}/g)?.length ?? 0;
  return Math.max(1, groups);
}

/**
 * Flesch reading ease of English text, clamped to 0–100:
 * 206.835 − 1.015 × (words ÷ sentences) − 84.6 × (syllables ÷ words).
 * Text without words scores 0.
 */
export function fleschReadingEase(text: string): number {
  const ws = words(stripEmoji(text));
  if (ws.length === 0) return 0;
  const sentences = sentenceCount(text);
  const syllables = ws.reduce((sum, w) => sum + englishSyllables(w), 0);
  const score = 206.835 - 1.015 * (ws.length / sentences) - 84.6 * (syllables / ws.length);
  return Math.min(100, Math.max(0, score));
}

/** Spanish syllables: vowel groups, split where two strong (or accented) vowels meet (hiatus). */
export function spanishSyllables(word: string): number {
  const groups = word.toLowerCase().match(/[aeiouáéíóúü]+/g) ?? [];
  let n = 0;
  for (const g of groups) {
    n += 1;
    for (let i = 1; i < g.length; i++) if (/[aeoáéíóú]/.test(g[i - 1]!) && /[aeoáéíóú]/.test(g[i]!)) n += 1;
  }
  return Math.max(1, n);
}

/**
 * Fernández Huerta reading ease (Flesch adapted to Spanish), clamped to 0–100:
 * 206.84 − 0.60 × syllables per 100 words − 1.02 × words per sentence.
 */
export function fernandezHuerta(text: string): number {
  const ws = words(stripEmoji(text));
  if (ws.length === 0) return 0;
  const sentences = sentenceCount(text);
  const syllables = ws.reduce((sum, w) => sum + spanishSyllables(w), 0);
  const score = 206.84 - 0.6 * ((syllables / ws.length) * 100) - 1.02 * (ws.length / sentences);
  return Math.min(100, Math.max(0, score));
}
