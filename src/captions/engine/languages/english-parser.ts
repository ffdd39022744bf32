import {
  NUMBER_TOKEN,
  parsedPart,
  rankTerms,
  sceneOf,
  type NounPhrase,
  type ParsedDescription,
} from '../description-parser.js';
import { nlpLibraries } from '../nlp-libraries.js';

interface Term {
  text: string;
  post: string;
  tags: string[];
}

const has = (t: Term | undefined, ...tags: string[]) => t !== undefined && tags.some((tag) => t.tags.includes(tag));
/** Determiners a phrase keeps in running text ("our new shoes"); articles are re-chosen. */
const POSSESSIVES = new Set(['our', 'my', 'your', 'their', 'his', 'her', 'its']);
const KEPT_DETERMINERS = new Set(['our', 'my', 'your', 'their', 'his', 'her', 'its', 'this', 'these', 'those']);
const PHRASE_BREAK = /[,.;:!?()[\]{}"“”|/\\]/u;
/** Words compromise may tag as nouns that never make a phrase or a tag on their own. */
const NOT_NOUNS = new Set(['here', 'there', 'thanks', 'today', 'tonight', 'yesterday', 'tomorrow', 'everyone', 'everything', 'something', 'nothing', 'someone', 'anyone', 'things', 'thing', 'lot', 'lots', 'bit', 'way', 'time']);
const isName = (t: Term) => has(t, 'ProperNoun', 'Person', 'Place', 'Organization') || /\p{Lu}/u.test(t.text.slice(1));

/**
 * Title-style descriptions ("Golden pancakes at the harbor", "Sunset hike up Mount Tamalpais")
 * give the tagger no determiner to go by, and it reads the head noun as a verb. Taken as a noun:
 * an -s form right after adjectives (nothing for it to be the verb of), and a base form right
 * after a singular noun (a clause would need "hikes"), a gerund between a modifier and its noun,
 * an -s form after a possessive and an adjective ("our new subscription plans").
 */
function misreadNoun(t: Term, run: Term[], next: Term | undefined, possessive: boolean, titleStart: boolean): boolean {
  const last = run.at(-1);
  // "our new subscription plans at…": after a possessive and an adjective, an -s form ends the phrase as its noun.
  if (possessive && run.some((r) => has(r, 'Adjective')) && has(t, 'PresentTense') && /s$/u.test(t.text) && !has(t, 'Copula', 'Modal', 'Auxiliary')) return true;
  // "woodworking techniques", "trail running shoes": a gerund inside a compound, before its noun.
  if (last && has(t, 'Gerund') && has(next, 'Noun') && !has(next, 'Pronoun')) return true;
  if (!last || has(t, 'Copula', 'Modal', 'Auxiliary', 'Gerund', 'PastTense', 'Pronoun')) return false;
  const afterAdjectives = run.every((r) => has(r, 'Adjective') && !has(r, 'Noun'));
  if (afterAdjectives && has(t, 'PresentTense') && /s$/u.test(t.text)) return true;
  // "Fresh strawberry pancakes with…": a title that opens with an adjective and has no determiner.
  if (titleStart && has(run[0], 'Adjective') && has(t, 'PresentTense') && /s$/u.test(t.text) && (next === undefined || has(next, 'Preposition'))) return true;
  return has(last, 'Singular') && !has(last, 'ProperNoun', 'Pronoun') && has(t, 'Infinitive') && !/s$/u.test(t.text);
}

/**
 * English descriptions, parsed with compromise (part-of-speech tags, names): noun phrases are runs
 * of adjectives and nouns ending in a noun, cut at verbs, prepositions, conjunctions and
 * punctuation; names (people, places, organisations, products such as "iPhone 17 Pro") stay
 * whole, digits included; a number joins a phrase only whole and only before its noun.
 */
export function parseEnglish(description: string): ParsedDescription {
  const text = parsedPart(description);
  const sentences = nlpLibraries().nlp(text).json() as Array<{ terms: Term[] }>;
  const phrases: NounPhrase[] = [];
  const nouns: string[] = [];
  const verbs: string[] = [];
  const numbers: string[] = [];

  for (const { terms } of sentences) {
    let run: Term[] = [];
    let determiner: string | undefined;
    const flush = () => {
      // A phrase ends in a noun: trailing adjectives and numbers are dropped.
      while (run.length > 0 && !has(run.at(-1), 'Noun')) run.pop();
      const kept = run.filter((t) => !NOT_NOUNS.has(t.text.toLowerCase()) || run.length > 1);
      if (kept.length > 0 && kept.some((t) => has(t, 'Noun') && /\p{L}/u.test(t.text))) {
        const words = kept.map((t) => t.text);
        const entity = kept.every((t) => isName(t) || NUMBER_TOKEN.test(t.text));
        // Capitals only where the description has them for a name; a sentence's first word is lowered.
        const shown = kept.map((t, i) => (i === 0 && !isName(t) ? t.text.toLowerCase() : isName(t) || NUMBER_TOKEN.test(t.text) ? t.text : t.text.toLowerCase()));
        // Hyphenated words ("wood-fired") are split by the tagger: joined back as written.
        const phraseText = shown.map((w, i) => (i < kept.length - 1 && kept[i]!.post === '-' ? `${w}-` : i < kept.length - 1 ? `${w} ` : w)).join('');
        const last = kept.at(-1)!;
        const bare = entity || has(last, 'Plural', 'Uncountable') || /s$/u.test(last.text) && !/ss$/u.test(last.text);
        const determined = determiner ? `${determiner} ${phraseText}` : bare ? phraseText : `the ${phraseText}`;
        phrases.push({ text: phraseText, determined, words: words.map((w) => w.toLowerCase()), entity });
        for (const t of kept) if (has(t, 'Noun') && /\p{L}/u.test(t.text) && !NOT_NOUNS.has(t.text.toLowerCase())) nouns.push(t.text.toLowerCase());
      }
      run = [];
      determiner = undefined;
    };
    terms.forEach((tagged, i) => {
      // "Wedding at the lighthouse": a gerund that opens the description and takes no object is a noun.
      const nounGerund = i === 0 && has(tagged, 'Gerund') && has(terms[i + 1], 'Preposition');
      const asNoun = has(tagged, 'Verb') && (misreadNoun(tagged, run, terms[i + 1], determiner !== undefined && POSSESSIVES.has(determiner), run.length === i && determiner === undefined) || nounGerund);
      // Only letters, digits and in-word marks reach a phrase: a tag or mention sign never does.
      const clean = tagged.text.replace(/[^\p{L}\p{N}'’&-]/gu, '');
      const t = { ...tagged, text: clean, tags: asNoun ? ['Noun', /s$/u.test(clean) && !has(tagged, 'Gerund') ? 'Plural' : 'Singular'] : tagged.tags };
      const raw = t.text;
      if (!/[\p{L}\p{N}]/u.test(raw)) {
        flush();
        return;
      }
      if (NUMBER_TOKEN.test(raw) || has(t, 'Value') && /\p{N}/u.test(raw)) numbers.push(raw);
      const next = terms[i + 1];
      const inName = isName(t) || (/^\p{N}+$/u.test(raw) && run.length > 0 && isName(run.at(-1)!) && next !== undefined && isName(next));
      if (has(t, 'Verb') && !has(t, 'Noun') && !inName) {
        // A gerund before a noun in a compound ("trail running shoes") is tagged a noun by compromise; any other verb cuts.
        verbs.push(raw.toLowerCase());
        flush();
      } else if (has(t, 'Determiner', 'Possessive') && !has(t, 'ProperNoun')) {
        flush();
        determiner = KEPT_DETERMINERS.has(raw.toLowerCase()) ? raw.toLowerCase() : undefined;
      } else if (inName || has(t, 'Noun', 'Adjective')) {
        if (has(t, 'Pronoun')) flush();
        else run.push(t);
      } else if (/^\p{N}+$/u.test(raw) && run.length === 0 && next !== undefined && has(next, 'Plural')) {
        // "3 new flavours": a whole count before its noun.
        run.push(t);
      } else {
        flush();
      }
      if (PHRASE_BREAK.test(t.post)) flush();
    });
    flush();
  }
  return { phrases, nouns: rankTerms(nouns), verbs: [...new Set(verbs)], numbers: [...new Set(numbers)], scene: sceneOf(text) };
}
