import { createHash } from 'node:crypto';
import { DEFAULT_HASHTAG_BLOCKLIST, HASHTAG_LIMIT_MAX } from '../../config/hashtag-rules.js';
import type { CaptionGenerationRequest } from '../dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../dto/caption-generation-response.dto.js';
import type { Language, OptimizationLevel } from '../dto/caption-options.js';
import { analyse, type CaptionAnalysis } from './caption-analysis.js';
import { SyncCaptionEngine, type DraftRange, type Drafts, type RequestProblem } from './caption-engine.js';
import { assessCaption, engagementPrediction } from './caption-scoring.js';
import { hashtagSet, pickHashtags, SHORT_TAG_COST } from './hashtag-picker.js';
import { OFFLINE_BANKS } from './languages/offline-banks.js';
import { loadNlpLibraries, nlpLoaded } from './nlp-libraries.js';
import type { PhraseBank, StyleBank } from './phrase-bank.js';
import { canonicalJson, SeededRandom } from './seeded-random.js';
import { charCount, emojiCount, openingSentence, stripEmoji, words } from './text-analysis.js';

/** Candidates drafted per variation; the best-scoring one is kept. */
export const CANDIDATES: Record<OptimizationLevel, number> = { ultra_fast: 1, fast: 2, balanced: 3, quality: 5, maximum_quality: 8 };
/** Room always kept for the caption text: the subject, an emoji and a short CTA fit in it. */
export const MIN_TEXT_CHARS = 40;
/** Characters Instagram shows of a caption before "more": the opening sentence ends within them. */
export const HOOK_CHARS = 125;
/** Between the caption and its hashtags in the published post. */
export const HASHTAG_SEPARATOR = '\n\n';
/** Text room planned per hashtag before the tags are picked (a typical relevant tag and its space). */
const PLANNED_TAG_COST = 14;

/** Kinds of caption parts, in the order they are dropped when space runs out (last first). */
type PartKind = 'core' | 'line' | 'cta' | 'content' | 'brand' | 'audience' | 'extra';
const DROP_ORDER: PartKind[] = ['extra', 'audience', 'brand', 'line', 'content'];

interface Part {
  kind: PartKind;
  text: string;
}

const BANKS: Partial<Record<Language, PhraseBank>> = OFFLINE_BANKS;
const bankOf = (language: string): PhraseBank | undefined => (Object.hasOwn(BANKS, language) ? BANKS[language as Language] : undefined);

const capitalise = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

export interface TemplateEngineOptions {
  /**
   * Tags never emitted, in any case, `#` optional (default: the generic tags of
   * {@link DEFAULT_HASHTAG_BLOCKLIST}). Entries that cannot be hashtags match nothing.
   */
  hashtagBlocklist?: Iterable<string>;
  /**
   * The most hashtags a request may ask for (default 30). The blocklist must leave at least this
   * many of every language's short fallback tags, so `hashtag_count` tags can always be found.
   */
  maxHashtags?: number;
  /**
   * Characters shown before "more" (default {@link HOOK_CHARS}, at least {@link MIN_TEXT_CHARS}):
   * every caption's opening sentence ends within them.
   */
  hookChars?: number;
}

/**
 * The built-in engine: offline, deterministic, no model, in six languages. It parses the
 * description with the language's tools (compromise for English, `Intl.Segmenter` and light
 * morphology for the others), fills style-specific sentence structures through typed slots (a
 * noun phrase only where a noun phrase fits, the description's first sentence only as a sentence
 * of its own), adds audience, content-type, brand and CTA lines, fits the result into `max_length`
 * by dropping whole lines (never cutting a sentence), picks hashtags from the description's nouns,
 * names and topics and the brand first (never a verb, a number fragment or a blocked tag), and
 * scores each draft by the rubric of caption-scoring.ts.
 */
export class TemplateCaptionEngine extends SyncCaptionEngine {
  readonly name = 'template-engine@2.0.0';
  readonly languages = Object.keys(BANKS) as Language[];
  private readonly prepared = new WeakMap<CaptionGenerationRequest, Prepared>();
  private readonly blocked: ReadonlySet<string>;
  private readonly cacheId: string;
  private readonly hookChars: number;

  /**
   * @throws RangeError when the blocklist leaves fewer than `maxHashtags` short fallback tags in a
   *   language (some requests could then not get their `hashtag_count` tags), or when `hookChars`
   *   is below {@link MIN_TEXT_CHARS}.
   */
  constructor(options: TemplateEngineOptions = {}) {
    super();
    this.hookChars = options.hookChars ?? HOOK_CHARS;
    if (!Number.isInteger(this.hookChars) || this.hookChars < MIN_TEXT_CHARS) {
      throw new RangeError(`hookChars must be an integer of at least ${MIN_TEXT_CHARS}, not ${this.hookChars}`);
    }
    this.blocked = hashtagSet(options.hashtagBlocklist ?? DEFAULT_HASHTAG_BLOCKLIST);
    const needed = options.maxHashtags ?? HASHTAG_LIMIT_MAX;
    for (const language of this.languages) {
      const left = [...hashtagSet(BANKS[language]!.shortTags)].filter((t) => !this.blocked.has(t)).length;
      if (left < needed) {
        throw new RangeError(`the blocklist leaves ${left} of the ${language} short fallback tags, and ${needed} hashtags need ${needed}`);
      }
    }
    // The blocklist and the hook shape the text: variations cached under other settings are not these.
    const digest = createHash('sha256').update(`${this.hookChars}:${[...this.blocked].sort().join(',')}`).digest('base64url').slice(0, 10);
    this.cacheId = `${this.name}+${digest}`;
  }

  override get cacheName(): string {
    return this.cacheId;
  }

  /** The shortest `max_length` that can hold `hashtag_count` tags and a caption. */
  static minimumLength(request: Pick<CaptionGenerationRequest, 'include_hashtags' | 'hashtag_count'>): number {
    return MIN_TEXT_CHARS + (request.include_hashtags ? HASHTAG_SEPARATOR.length + request.hashtag_count * SHORT_TAG_COST - 1 : 0);
  }

  check(request: CaptionGenerationRequest): RequestProblem[] {
    const problems: RequestProblem[] = [];
    if (!bankOf(request.language)) {
      problems.push({ field: 'language', message: `${request.language} is not supported yet; supported: ${this.languages.join(', ')}` });
    }
    const min = TemplateCaptionEngine.minimumLength(request);
    if (request.max_length < min) {
      problems.push({
        field: 'max_length',
        message: `must be at least ${min} to hold ${request.hashtag_count} hashtags and a caption; raise max_length or lower hashtag_count`,
      });
    }
    return problems;
  }

  generate(request: CaptionGenerationRequest, variationIndex: number): CaptionVariation {
    const problems = this.check(request);
    if (problems.length > 0) throw new RangeError(problems.map((p) => `${p.field} ${p.message}`).join('; '));
    const bank = bankOf(request.language)!;
    const prepared = this.prepare(request, bank);
    let best: CaptionVariation | undefined;
    for (let c = 0; c < CANDIDATES[request.optimization_level]; c++) {
      const draft = this.draft(request, bank, prepared, variationIndex, c);
      if (!best || draft.quality_score > best.quality_score) best = draft;
    }
    return best!;
  }

  /** Loads the language libraries on the first draft (not at start), then drafts as {@link SyncCaptionEngine} does. */
  override async draftVariations(request: CaptionGenerationRequest, range: DraftRange, signal: AbortSignal, sink?: CaptionVariation[]): Promise<Drafts> {
    await loadNlpLibraries();
    return super.draftVariations(request, range, signal, sink);
  }

  confidence(request: CaptionGenerationRequest, variations: CaptionVariation[]): number | Promise<number> {
    const bank = bankOf(request.language);
    if (!bank) return 0;
    // A response read from the cache before any draft: the libraries load without holding the event loop.
    if (!nlpLoaded()) return loadNlpLibraries().then(() => keyTermConfidence(this.keyTerms(request), variations));
    return keyTermConfidence(this.keyTerms(request), variations);
  }

  /** The description's key terms as this engine reads them (what {@link confidence} looks for). */
  keyTerms(request: CaptionGenerationRequest): string[] {
    const bank = bankOf(request.language);
    return bank ? this.prepare(request, bank).analysis.keyTerms : [];
  }

  /**
   * What every variation and candidate of one request shares, worked out once per request object:
   * the analysis (the description parsed), the seed, the structure offset, and each word slot's
   * first draw (a SHA-256 each: drawn per slot, not per slot per draft).
   */
  private prepare(request: CaptionGenerationRequest, bank: PhraseBank): Prepared {
    let p = this.prepared.get(request);
    if (!p) {
      const seed = seedOf(request);
      const slotDraws = new Map<string, number>();
      p = {
        analysis: analyse(request, bank),
        seed,
        structureDraw: new SeededRandom(seed, 'structure').next(),
        slotDraw: (slot) => {
          let draw = slotDraws.get(slot);
          if (draw === undefined) {
            draw = new SeededRandom(seed, slot).next();
            slotDraws.set(slot, draw);
          }
          return draw;
        },
      };
      this.prepared.set(request, p);
    }
    return p;
  }

  private draft(request: CaptionGenerationRequest, bank: PhraseBank, prepared: Prepared, index: number, candidate: number): CaptionVariation {
    const { analysis, seed } = prepared;
    const style = bank.styles[request.style];
    const rng = new SeededRandom(seed, index, candidate);
    // Variation i takes structure (offset + i): consecutive variations never share a structure.
    // (`SeededRandom#int(n)` is floor(first draw × n): the draw is kept, the product taken here.)
    const offset = Math.floor(prepared.structureDraw * style.structures.length);
    const structure = style.structures[(offset + index) % style.structures.length]!;
    const emojis = new EmojiSlot(request.include_emojis, style, analysis.topicEmojis, rng);
    // Wording rotates with the variation, and once more per round of structures, so consecutive
    // variations use different lines and a structure that comes back (i and i + 10) is worded
    // differently: its picks move by 11, and no bank has 11 entries. Candidates vary emojis, CTA and extras.
    const round = Math.floor((offset + index) / style.structures.length);
    const pickWord = (slot: string, options: string[]) =>
      options[(Math.floor(prepared.slotDraw(slot) * options.length) + index + round) % options.length]!;
    const fill = (template: string) => contract(renderTemplate(template, analysis, style, pickWord, emojis), bank);

    // The core is rendered first and always holds an emoji when they are on: other lines may be dropped.
    const core = fill(structure[0]!);
    const parts: Part[] = [{ kind: 'core', text: emojiCount(core) > 0 || !emojis.include ? core : `${core} ${emojis.take()}`.trim() }];
    for (const sentence of structure.slice(1)) parts.push({ kind: 'line', text: fill(sentence) });
    const isStory = request.content_type === 'story';
    // A second phrase the core does not already say (a scene may hold them all).
    const coreLower = core.toLowerCase();
    const secondary = analysis.secondary.filter((t) => !coreLower.includes(t.toLowerCase().replace(/^\S+ /u, '')));
    if (style.termLines.length > 0 && secondary.length > 0) {
      const term = secondary[(index + candidate) % secondary.length]!;
      parts.push({ kind: 'extra', text: contract(capitalise(rng.pick(style.termLines).replace('{term}', term)), bank) });
    }
    if (style.extras) {
      const audience = bank.audiences[request.audience];
      const lines = style.slang ? [...audience.lines, ...audience.slangLines] : audience.lines;
      const chance = request.audience === 'general' ? 0.3 : 0.7;
      if (!isStory && lines.length > 0 && rng.next() < chance) parts.push({ kind: 'audience', text: rng.pick(lines) });
      const contentLines = bank.contentTypes[request.content_type].lines;
      if (contentLines.length > 0) parts.push({ kind: 'content', text: rng.pick(contentLines) });
    }
    const brandLine = this.brandLine(style, bank.voiceLine, analysis, rng);
    if (brandLine) parts.push({ kind: 'brand', text: brandLine });
    if (request.include_cta) parts.push({ kind: 'cta', text: rng.pick(style.ctas) });

    const tagCount = request.include_hashtags ? request.hashtag_count : 0;
    const tagRoom = request.include_hashtags ? HASHTAG_SEPARATOR.length : 0;
    const hardCap = request.max_length - tagRoom - (tagCount > 0 ? tagCount * SHORT_TAG_COST - 1 : 0);
    // The text gets what typical tags leave, and at least half the room; the tags get the rest.
    const room = request.max_length - tagRoom;
    let textCap = Math.min(hardCap, Math.max(MIN_TEXT_CHARS, room - tagCount * PLANNED_TAG_COST, Math.floor(room / 2)));
    if (isStory) textCap = Math.min(textCap, 120);
    const shortestCta = style.ctas.reduce((a, b) => (charCount(b) < charCount(a) ? b : a));
    let text = fitParts(parts, textCap, shortestCta);
    if (text !== undefined && charCount(openingSentence(text)) > this.hookChars) {
      // The opening sentence runs on past what shows before "more": the core line, which carries
      // the subject, becomes a line of its own (same length), or the caption takes its shortest form.
      text = joinParts(parts, true);
      if (charCount(openingSentence(text)) > this.hookChars) text = undefined;
    }
    if (text === undefined || (request.include_emojis && emojiCount(text) === 0)) {
      text = minimalCaption(request, analysis, emojis, index, textCap);
    }

    let hashtags: string[] = [];
    if (request.include_hashtags) {
      const budget = request.max_length - charCount(text) - HASHTAG_SEPARATOR.length;
      ({ tags: hashtags } = pickHashtags({ ...analysis.tags, short: bank.shortTags }, request.hashtag_count, budget, rng, index, this.blocked));
    }
    const report = assessCaption({
      text,
      hashtags,
      language: request.language,
      style: request.style,
      contentType: request.content_type,
      keyTerms: analysis.keyTerms,
      numbers: analysis.numbers,
      ground: analysis.ground,
      bank,
      allowedRepeats: analysis.brandName ? [analysis.brandName] : [],
      includeHashtags: request.include_hashtags,
      includeEmojis: request.include_emojis,
      includeCta: request.include_cta,
      hasCta: request.include_cta, // fitParts and minimalCaption never drop the CTA
      hookChars: this.hookChars,
    });
    const quality = report.score;
    const readability = report.readability;
    return {
      caption: text,
      hashtags,
      quality_score: quality,
      engagement_prediction: engagementPrediction(quality, request.content_type),
      readability_score: readability,
      word_count: words(stripEmoji(text)).length,
      character_count: charCount(text) + (hashtags.length > 0 ? HASHTAG_SEPARATOR.length + charCount(hashtags.join(' ')) : 0),
      emoji_count: emojiCount(text),
    };
  }

  private brandLine(style: StyleBank, voiceLine: string, analysis: CaptionAnalysis, rng: SeededRandom): string | undefined {
    const voice = analysis.voiceAdjectives.length > 0 ? rng.pick(analysis.voiceAdjectives) : undefined;
    if (analysis.brandName) {
      const usable = style.brandLines.filter((l) => voice !== undefined || !l.includes('{voice}'));
      const line = rng.pick(usable.length > 0 ? usable : ['— {brand}']);
      return capitalise(line.replace('{brand}', analysis.brandName).replace('{voice}', voice ?? ''));
    }
    return voice && style.extras ? voiceLine.replace('{voice}', voice) : undefined;
  }
}

/** Per-request state shared by its drafts (see `TemplateCaptionEngine#prepare`). */
interface Prepared {
  analysis: CaptionAnalysis;
  seed: string;
  /** First draw of `SeededRandom(seed, 'structure')`. */
  structureDraw: number;
  /** First draw of `SeededRandom(seed, slot)`. */
  slotDraw(slot: string): number;
}

/** Share (0–1, three decimals) of the first five key terms that the variations use. */
export function keyTermConfidence(keyTerms: readonly string[], variations: readonly CaptionVariation[]): number {
  const terms = keyTerms.slice(0, 5);
  if (terms.length === 0) return 0;
  const text = variations.map((v) => v.caption.toLowerCase()).join('\n');
  return Math.round((terms.filter((t) => text.includes(t)).length / terms.length) * 1000) / 1000;
}

/** Hands out emojis for `{e}` slots: topic emojis first, never more than the style allows. */
class EmojiSlot {
  used = 0;
  private last?: string;

  constructor(
    readonly include: boolean,
    private readonly style: StyleBank,
    private readonly topical: string[],
    private readonly rng: SeededRandom,
  ) {}

  take(): string {
    if (!this.include || this.used >= this.style.maxEmojis) return '';
    const preferTopic = this.topical.length > 0 && (this.used === 0 || this.rng.next() < 0.3);
    let pick = preferTopic ? this.rng.pick(this.topical) : this.rng.pick(this.style.emojis);
    if (pick === this.last) pick = this.rng.pick(this.style.emojis);
    if (pick === this.last) return '';
    this.last = pick;
    this.used += 1;
    return pick;
  }
}

function renderTemplate(
  template: string,
  a: CaptionAnalysis,
  style: StyleBank,
  pickWord: (slot: string, options: string[]) => string,
  emojis: EmojiSlot,
): string {
  const usedWords = new Set<string>();
  const out = template.replace(/\{(\w+)\}/g, (_, slot: string) => {
    const key = slot[0]!.toLowerCase() + slot.slice(1);
    let value: string;
    if (key === 'e') return emojis.take();
    if (key === 'subject') value = a.subject;
    else if (key === 'theSubject') value = a.theSubject;
    else if (key === 'scene') value = a.scene;
    else {
      const bankWords = style.words[key] ?? [];
      const fresh = bankWords.filter((w) => !usedWords.has(w));
      value = fresh.length > 0 ? pickWord(key, fresh) : '';
      usedWords.add(value);
    }
    return slot[0] === slot[0]!.toUpperCase() ? capitalise(value) : value;
  });
  return tidy(capitalise(out));
}

/** The bank's article and preposition contractions ("de el" → "del"). */
function contract(text: string, bank: PhraseBank): string {
  let out = text;
  for (const [pattern, replacement] of bank.contractions ?? []) out = out.replace(pattern, replacement);
  return out;
}

function tidy(text: string): string {
  return text
    .replace(/[ \t]+/g, ' ')
    .replace(/ ([.,!?:])/g, '$1')
    .trim();
}

/**
 * Sentences flow together; the CTA and the brand sign-off get their own lines. With `coreLine`,
 * the core (the first body part) ends its line too, so it is the caption's opening sentence.
 */
function joinParts(parts: Part[], coreLine = false): string {
  const body = parts.filter((p) => p.kind !== 'cta' && p.kind !== 'brand').map((p) => p.text);
  const cta = parts.filter((p) => p.kind === 'cta').map((p) => p.text);
  const brand = parts.filter((p) => p.kind === 'brand').map((p) => p.text);
  const [core = '', ...rest] = body;
  const text = coreLine && rest.length > 0 ? `${core}\n${rest.join(' ')}` : body.join(' ');
  return [text, ...cta, ...brand].filter(Boolean).join('\n');
}

/**
 * Drops the least important parts until the caption fits `cap`, then shortens the CTA. Sentences
 * are never cut (a cut clause is a broken one): undefined when the core still does not fit.
 */
function fitParts(parts: Part[], cap: number, shortestCta: string): string | undefined {
  let text = joinParts(parts);
  for (const kind of DROP_ORDER) {
    if (charCount(text) <= cap) return text;
    // Drop one part of this kind at a time, the last one first.
    while (charCount(text) > cap && parts.some((p) => p.kind === kind)) {
      const i = parts.map((p) => p.kind).lastIndexOf(kind);
      parts.splice(i, 1);
      text = joinParts(parts);
    }
  }
  if (charCount(text) <= cap) return text;
  const cta = parts.find((p) => p.kind === 'cta');
  if (cta) {
    cta.text = shortestCta;
    text = joinParts(parts);
    if (charCount(text) <= cap) return text;
  }
  return undefined;
}

/** The shortest form: subject, an emoji, a short CTA (or closer). Always within MIN_TEXT_CHARS. */
function minimalCaption(request: CaptionGenerationRequest, a: CaptionAnalysis, emojis: EmojiSlot, index: number, cap: number): string {
  const bank = bankOf(request.language)!;
  const emoji = emojis.include ? emojis.take() || bank.styles[request.style].emojis[0]! : '';
  const head = [`${capitalise(a.subject)}.`, emoji].filter(Boolean).join(' ');
  const closer = bank.shortClosers[index % bank.shortClosers.length]!;
  const cta = request.include_cta ? bank.shortCtas[index % bank.shortCtas.length]! : '';
  // Richest form that fits; the CTA, when asked for, always stays (MIN_TEXT_CHARS holds head + CTA).
  for (const form of [[head, closer, cta], [head, cta]]) {
    const text = form.filter(Boolean).join(' ');
    if (charCount(text) <= cap) return text;
  }
  return [head, cta].filter(Boolean).join(' ');
}

/** Everything that shapes the text; not the optimization level (it only decides how many drafts), nor variation_count. */
function seedOf(r: CaptionGenerationRequest): string {
  return canonicalJson([
    r.content_description,
    r.style,
    r.audience,
    r.content_type,
    r.hashtag_count,
    r.include_hashtags,
    r.include_emojis,
    r.include_cta,
    r.language,
    r.max_length,
    r.user_id ?? null,
    r.brand_info ?? null,
    r.request_id ?? null,
  ]);
}
