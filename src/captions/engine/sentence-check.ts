import { LRUCache } from 'lru-cache';
import type { PhraseBank } from './phrase-bank.js';
import { stripEmoji, words } from './text-analysis.js';
import { nlpLibraries } from './nlp-libraries.js';

/** A sentence a reader would stop at, and why. */
export interface SentenceProblem {
  sentence: string;
  problem: 'no-verb' | 'dangling-verb' | 'bare-noun';
}

/** A sentence of this many words or more reads as broken without a verb; shorter ones may be labels ("A closer look at our new shoes."). */
export const VERBLESS_MAX_WORDS = 12;
/** English words that open a clause: a verb must follow them ("until the sunset" is a clause cut short). */
const CLAUSE_OPENERS = new Set(['until', 'because', 'when', 'while', 'if', 'although', 'unless', 'whenever']);

interface Term {
  text: string;
  normal?: string;
  post?: string;
  tags: string[];
}
const has = (t: Term | undefined, ...tags: string[]) => t !== undefined && tags.some((tag) => t.tags.includes(tag));

/** Nouns English uses without an article after a preposition ("with care", "at home", "of course"). */
const BARE_OK = new Set(
  `home care love time work school design focus course repeat purpose hand mind heart life fire sale stock demand
  display board site bed breakfast lunch dinner town night day today tonight way point fun style detail sight
  brunch mood earth paper camera record board sound display nature season hope joy peace gratitude intention
  everyone everything someone something nothing anything one light detail summer winter spring autumn fall
  quality consistency bio crime step progress practice time focus sale request order reality`.split(/\s+/),
);
const FINITE = (t: Term) => has(t, 'PastTense') || (has(t, 'PresentTense') && !has(t, 'Gerund', 'Infinitive', 'Imperative'));

/** English problems, by compromise's tags: a finite verb right after a noun slot's phrase, a bare singular count noun after a preposition. */
function englishProblems(sentence: string): SentenceProblem['problem'][] {
  const problems: SentenceProblem['problem'][] = [];
  const terms = (nlpLibraries().nlp(sentence).json() as Array<{ terms: Term[] }>).flatMap((s) => s.terms);
  if (!terms.some((t) => has(t, 'Verb')) && words(sentence).length >= VERBLESS_MAX_WORDS) problems.push('no-verb');
  const opener = terms.findIndex((t) => CLAUSE_OPENERS.has(t.text.toLowerCase()));
  if (opener >= 0 && !terms.slice(opener + 1).some((t) => has(t, 'Verb'))) problems.push('no-verb');
  const ends = (t: Term | undefined) => /[,.;:!?]/u.test(t?.post ?? '');
  for (let i = 0; i < terms.length; i++) {
    const head = terms[i]!;
    const andFirst = i === 0 && head.text.toLowerCase() === 'and';
    if (!has(head, 'Preposition', 'Gerund') && !andFirst) continue;
    if (ends(head)) continue;
    let j = i + 1;
    while (has(terms[j], 'Adjective') && !has(terms[j], 'Noun') && !ends(terms[j])) j += 1;
    if (has(terms[j], 'Adjective') && !has(terms[j], 'Noun')) continue;
    const start = j;
    // The phrase ends at punctuation: "in focus: sunset" is two parts.
    while (has(terms[j], 'Noun', 'Value') && !has(terms[j], 'Pronoun', 'Determiner', 'Possessive')) {
      j += 1;
      if (/[,.;:!?]/u.test(terms[j - 1]!.post ?? '')) break;
    }
    if (j === start) continue;
    const last = terms[j - 1]!;
    const next = terms[j];
    if (next && has(next, 'Verb') && FINITE(next) && !has(next, 'Noun')) problems.push('dangling-verb');
    else if (
      has(head, 'Preposition') || andFirst
        ? has(last, 'Singular') &&
          !has(last, 'Uncountable', 'ProperNoun', 'Person', 'Place', 'Organization', 'Value', 'Date', 'Pronoun', 'Acronym') &&
          !/^\p{Lu}/u.test(last.text) &&
          !BARE_OK.has((last.normal ?? last.text).toLowerCase())
        : false
    ) {
      problems.push('bare-noun');
    }
  }
  return problems;
}

const cache = new LRUCache<string, SentenceProblem['problem'][]>({ max: 20_000 });

/** Sentences of a caption: split at stops, colons, emojis and line breaks ("Tip: practise daily." is a label and a clause), emojis dropped. */
export function captionSentences(text: string): string[] {
  // An emoji ends a line of a caption as a stop does ("Sunset kind of day ✨ Little things…").
  return text
    .split(/(?<=[.!?…:])[\s\u202f]+|\n+|[\s\u202f]:\s|\p{Extended_Pictographic}[\p{Extended_Pictographic}\uFE0F\u200D]*/u)
    .map((s) => stripEmoji(s).trim())
    .filter((s) => /\p{L}/u.test(s));
}

/**
 * Sentences of `text` a reader would stop at: one of {@link VERBLESS_MAX_WORDS} words or more
 * without a verb (verbs found by the language's parser); in English also a finite verb right after
 * a phrase that a preposition or gerund opened ("Introducing quarterly revenue grew.", "Featuring
 * 20 thanks."), and a singular count noun with no article after a preposition or a leading "And"
 * ("…began with sunset hike.", "And oven, of course."). Results are cached per sentence.
 */
export function sentenceProblems(text: string, bank: Pick<PhraseBank, 'code' | 'parse'>): SentenceProblem[] {
  const out: SentenceProblem[] = [];
  for (const sentence of captionSentences(text)) {
    const key = `${bank.code}\u0000${sentence}`;
    let problems = cache.get(key);
    if (!problems) {
      problems = bank.code === 'en' ? englishProblems(sentence) : lightProblems(sentence, bank);
      cache.set(key, problems);
    }
    for (const problem of problems) out.push({ sentence, problem });
  }
  return out;
}

function lightProblems(sentence: string, bank: Pick<PhraseBank, 'parse'>): SentenceProblem['problem'][] {
  if (words(sentence).length < VERBLESS_MAX_WORDS) return [];
  return bank.parse(sentence).verbs.length === 0 ? ['no-verb'] : [];
}

