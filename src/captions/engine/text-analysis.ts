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
