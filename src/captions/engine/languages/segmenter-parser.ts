import {
  NUMBER_TOKEN,
  parsedPart,
  rankTerms,
  sceneOf,
  type NounPhrase,
  type ParsedDescription,
} from '../description-parser.js';

/** What the light parser needs to know of a language (Spanish, French, German, Italian, Portuguese). */
export interface LightGrammar {
  /** BCP 47 tag for `Intl.Segmenter`. */
  locale: string;
  /** Function words: never in a noun phrase (except as connectors), never a tag. */
  stopWords: ReadonlySet<string>;
  /** Articles, possessives and demonstratives: they open a noun phrase, so the next word is not a verb. */
  determiners: ReadonlySet<string>;
  /** Prepositions that may join nouns inside a phrase ("tortitas de fresa", "pôr do sol"). */
  connectors: ReadonlySet<string>;
  /** Common verb forms (finite, auxiliaries, modal): they cut a phrase and are never tags. */
  verbs: ReadonlySet<string>;
  /** Endings that mark a verb form wherever they occur (gerunds, first person plural…). */
  verbEndings: RegExp;
  /** Endings of a participle: a verb after an auxiliary ("ha crecido"), an adjective elsewhere ("dorado"). */
  participleEndings: RegExp;
  /** Auxiliaries before a participle. */
  auxiliaries: ReadonlySet<string>;
  /** German: nouns are written with a capital, so a noun phrase is adjectives before a capitalised word. */
  capitalisedNouns: boolean;
  /** Words that look like verbs by their ending but are common nouns ("atardecer"…): kept as nouns. */
  nounExceptions?: ReadonlySet<string>;
  /**
   * The article a phrase takes in running text when the description gave it none, from the
   * phrase's first word and its head noun (light morphology: gender and number by ending). Without
   * it, the phrase stays bare and the language's templates use it only as a label.
   */
  article?: (first: string, head: string) => string;
  /** Whether the head noun comes first (Romance languages: "tortitas de fresa") or last. */
  headFirst: boolean;
}

interface Token {
  text: string;
  lower: string;
  /** Punctuation or a sentence start before it: it may not join the previous word's phrase. */
  breakBefore: boolean;
  first: boolean;
}

const ELISION = /^(\p{L}{1,5})['’](\p{L}.*)$/u;
const BREAK_MARK = /[,;:()[\]{}"“”«»|/\\–—]/u;

/** Word tokens of one sentence, by `Intl.Segmenter`; a number keeps its unit ("20%"), an elided article is split off ("l'été" → "l'", "été"). */
function tokens(sentence: string, segmenter: Intl.Segmenter): Token[] {
  const out: Token[] = [];
  let pendingBreak = true;
  for (const seg of segmenter.segment(sentence)) {
    if (!seg.isWordLike) {
      const last = out.at(-1);
      if (last && NUMBER_TOKEN.test(`${last.text}${seg.segment.trim()}`) && /^[%€$£]$/u.test(seg.segment.trim())) {
        last.text += seg.segment.trim();
        last.lower = last.text.toLowerCase();
      } else if (BREAK_MARK.test(seg.segment)) pendingBreak = true;
      continue;
    }
    const elided = ELISION.exec(seg.segment);
    const parts = elided ? [seg.segment.slice(0, elided[1]!.length + 1), elided[2]!] : [seg.segment];
    for (const text of parts) {
      out.push({ text, lower: text.toLowerCase(), breakBefore: pendingBreak, first: out.length === 0 });
      pendingBreak = false;
    }
  }
  return out;
}

/**
 * Descriptions in languages without a tagger here, parsed with `Intl.Segmenter` words, stop lists
 * and light morphology: a verb is a listed form, a form with a verb ending, or a participle after
 * an auxiliary; a noun phrase is a run of content words (with connectors such as "de" between
 * them) that holds no verb; a capitalised word inside a sentence is a name, kept whole; German
 * nouns are found by their capital. Not a full grammar: it only has to keep verbs and number
 * fragments out of noun slots and tags.
 */
export function lightParser(g: LightGrammar): (description: string) => ParsedDescription {
  const segmenter = new Intl.Segmenter(g.locale, { granularity: 'word' });
  const isVerb = (t: Token, prev: Token | undefined) => {
    if (g.nounExceptions?.has(t.lower)) return false;
    if (prev && g.determiners.has(prev.lower)) return false;
    if (g.verbs.has(t.lower) || g.verbEndings.test(t.lower)) return true;
    return prev !== undefined && g.auxiliaries.has(prev.lower) && g.participleEndings.test(t.lower);
  };
  return (description) => {
    const text = parsedPart(description);
    const phrases: NounPhrase[] = [];
    const nouns: string[] = [];
    const verbs: string[] = [];
    const numbers: string[] = [];
    for (const sentence of text.split(/[.!?¡¿\n]+/u)) {
      const toks = tokens(sentence, segmenter);
      let run: Token[] = [];
      let determiner: string | undefined;
      const flush = () => {
        while (run.length > 0 && (g.connectors.has(run.at(-1)!.lower) || NUMBER_TOKEN.test(run.at(-1)!.text))) run.pop();
        if (g.capitalisedNouns) {
          // German: the phrase ends with its last capitalised word (the noun).
          while (run.length > 0 && !/^\p{Lu}/u.test(run.at(-1)!.text)) run.pop();
        }
        if (g.capitalisedNouns && run.length > 1 && run[0]!.first && /(?:e|er|es|en|em)$/u.test(run[0]!.lower)) {
          // German: a sentence's first word before the noun is an adjective, written in lower case inside a caption.
          run[0] = { ...run[0]!, text: run[0]!.lower };
        }
        if (run.length > 0) {
          const entity = !g.capitalisedNouns && run.every((t) => (!t.first && /^\p{Lu}/u.test(t.text)) || /\p{Lu}/u.test(t.text.slice(1)) || g.connectors.has(t.lower) || NUMBER_TOKEN.test(t.text));
          const shown = run.map((t) =>
            g.capitalisedNouns || (!t.first && /^\p{Lu}/u.test(t.text)) || /\p{Lu}/u.test(t.text.slice(1)) ? t.text : t.lower,
          );
          // An elided article or preposition ("d'") is written against its word.
          const phraseText = shown.map((w, i) => (i < shown.length - 1 && !/['’]$/u.test(w) ? `${w} ` : w)).join('');
          const content = run.filter((t) => !g.connectors.has(t.lower));
          const head = (g.headFirst ? content[0] : content.at(-1))!.lower;
          const article = determiner ?? (entity || !g.article ? '' : g.article(shown[0]!.toLowerCase(), head));
          const joined = article === '' ? '' : article.endsWith("'") ? article : `${article} `;
          phrases.push({ text: phraseText, determined: `${joined}${phraseText}`, words: content.map((t) => t.lower), entity, tag: run.map((t) => t.lower.replace(/['’]$/u, '')).join('') });
          for (const t of content) if (/\p{L}/u.test(t.text) && (!g.capitalisedNouns || /^\p{Lu}/u.test(t.text))) nouns.push(t.lower);
        }
        run = [];
        determiner = undefined;
      };
      toks.forEach((t, i) => {
        const prev = i > 0 ? toks[i - 1] : undefined;
        if (t.breakBefore) flush();
        if (NUMBER_TOKEN.test(t.text)) {
          numbers.push(t.text);
          // A whole number stays inside a name ("iPhone 17 Pro"); anywhere else it ends the phrase.
          const next = toks[i + 1];
          if (run.length > 0 && /\p{Lu}/u.test(run.at(-1)!.text) && next && /^\p{Lu}/u.test(next.text) && !next.breakBefore) run.push(t);
          else flush();
          return;
        }
        if (!/\p{L}/u.test(t.text)) return flush();
        if (isVerb(t, prev)) {
          verbs.push(t.lower);
          return flush();
        }
        if (g.stopWords.has(t.lower)) {
          if (g.connectors.has(t.lower) && run.length > 0) return void run.push(t);
          flush();
          if (g.determiners.has(t.lower)) determiner = t.text.toLowerCase();
          return;
        }
        if (g.capitalisedNouns && !/^\p{Lu}/u.test(t.text) && run.length > 0 && /^\p{Lu}/u.test(run.at(-1)!.text)) {
          // German: a lower-case word after a noun is not part of its phrase.
          flush();
        }
        // A phrase holds at most four content words.
        if (run.filter((r) => !g.connectors.has(r.lower)).length === 4) flush();
        run.push(t);
      });
      flush();
    }
    return { phrases, nouns: rankTerms(nouns), verbs: [...new Set(verbs)], numbers: [...new Set(numbers)], scene: sceneOf(text) };
  };
}
