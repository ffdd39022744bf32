/** Language-independent text measures: words, emojis, sentences, key terms. Readability formulas are in readability.ts. */

const EMOJI = /\p{Extended_Pictographic}/gu;
const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;

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

const SENTENCE_MARK = /[.!?…]/u;
const SPACE = /\s/u;

/**
 * `text` cut to at most `max` characters at a word boundary, without the clause punctuation and
 * white space a cut leaves at its end; empty when not even one word fits. For text the caller may
 * shorten (a model's draft); the offline engine never cuts a sentence.
 */
export function trimToWords(text: string, max: number): string {
  if (charCount(text) <= max) return text;
  const cut = [...text].slice(0, max + 1).join('');
  const space = cut.lastIndexOf(' ');
  return trimEnd(space > 0 ? cut.slice(0, space) : '', TRAILING_PUNCTUATION);
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
