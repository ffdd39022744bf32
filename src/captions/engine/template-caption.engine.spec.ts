import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withDefaults, type CaptionGenerationRequest } from '../dto/caption-generation-request.dto.js';
import { AUDIENCES, CAPTION_STYLES, CONTENT_TYPES, OPTIMIZATION_LEVELS } from '../dto/caption-options.js';
import { ENGLISH } from './languages/english-bank.js';
import { SPANISH } from './languages/spanish-bank.js';
import { DEFAULT_HASHTAG_BLOCKLIST } from '../../config/hashtag-rules.js';
import { VALID_HASHTAG } from './hashtag-picker.js';
import { openingSentence } from './text-analysis.js';
import { HOOK_CHARS, TemplateCaptionEngine } from './template-caption.engine.js';

const NOUNS = ['pancakes', 'bicycle', 'lighthouse', 'sneakers', 'espresso', 'notebook', 'waterfall', 'puppy', 'skyline', 'guitar'];
const ADJECTIVES = ['golden', 'tiny', 'handmade', 'crispy', 'bright', 'quiet', 'colorful'];
const PLACES = ['harbor', 'market', 'studio', 'rooftop', 'forest', 'kitchen'];
const SHAPES = [
  (a: string, n: string, p: string) => `A ${a} ${n} at the ${p}`,
  (a: string, n: string, p: string) => `${a} ${n} in the ${p} with friends.`,
  (a: string, n: string, p: string) => `Our ${a} ${n} for ${p} lovers! Made with care, shipped this week.`,
  (a: string, n: string, p: string) => `${a} ${n} at the ${p} on Sunday: good music and long conversations about everything and nothing.`,
];

/** A described subject, and the noun that must appear in every caption of it. */
const described = fc
  .tuple(fc.constantFrom(...ADJECTIVES), fc.constantFrom(...NOUNS), fc.constantFrom(...PLACES), fc.constantFrom(...SHAPES))
  .map(([a, n, p, shape]) => ({ description: shape(a, n, p), noun: n }));

const requestArb = fc
  .record({
    subject: described,
    style: fc.constantFrom(...CAPTION_STYLES),
    audience: fc.constantFrom(...AUDIENCES),
    content_type: fc.constantFrom(...CONTENT_TYPES),
    optimization_level: fc.constantFrom(...OPTIMIZATION_LEVELS),
    hashtag_count: fc.integer({ min: 1, max: 30 }),
    include_hashtags: fc.boolean(),
    include_emojis: fc.boolean(),
    include_cta: fc.boolean(),
    request_id: fc.option(fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/), { nil: undefined }),
    brand_info: fc.option(
      fc.record({
        name: fc.constantFrom('Harbor & Co', 'Lumen', 'Kite Studio'),
        voice: fc.constantFrom('warm and friendly', 'bold', 'calm, mindful', 'quirky'),
        keywords: fc.array(fc.constantFrom('handcrafted', 'slow living', 'eco', 'limited_run', '2024'), { maxLength: 4 }),
      }),
      { nil: undefined },
    ),
    slack: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 2200 })),
  })
  .map(({ subject, slack, ...fields }) => {
    const request = withDefaults({ ...fields, content_description: subject.description });
    request.max_length = Math.min(2200, Math.max(50, TemplateCaptionEngine.minimumLength(request)) + slack);
    return { request, noun: subject.noun };
  });

const EMOJI = /\p{Extended_Pictographic}/u;
const copy = (r: CaptionGenerationRequest) => withDefaults(structuredClone({ ...r }));

describe(TemplateCaptionEngine.name, () => {
  const sut = new TemplateCaptionEngine();

  it('fits max_length, hashtags included, and reports the true counts', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), ({ request }, i) => {
        const v = sut.generate(request, i);
        const published = v.hashtags.length > 0 ? `${v.caption}\n\n${v.hashtags.join(' ')}` : v.caption;
        expect([...published].length).toBe(v.character_count);
        expect(v.character_count).toBeLessThanOrEqual(request.max_length);
        expect(v.emoji_count).toBe((v.caption.match(/\p{Extended_Pictographic}/gu) ?? []).length);
        expect(v.quality_score).toBeGreaterThanOrEqual(0);
        expect(v.quality_score).toBeLessThanOrEqual(100);
        expect(v.readability_score).toBeGreaterThanOrEqual(0);
        expect(v.readability_score).toBeLessThanOrEqual(100);
        expect(v.engagement_prediction).toBeGreaterThanOrEqual(0);
        expect(v.engagement_prediction).toBeLessThanOrEqual(1);
      }),
      { numRuns: 60 },
    );
  });

  it('gives exactly hashtag_count unique, valid hashtags when they are on, none when off', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), ({ request }, i) => {
        const { hashtags } = sut.generate(request, i);
        expect(hashtags).toHaveLength(request.include_hashtags ? request.hashtag_count : 0);
        expect(new Set(hashtags.map((h) => h.toLowerCase())).size).toBe(hashtags.length);
        for (const h of hashtags) expect(h).toMatch(VALID_HASHTAG);
      }),
      { numRuns: 60 },
    );
  });

  it('puts the subject in the caption and obeys the emoji and CTA flags', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), ({ request, noun }, i) => {
        const v = sut.generate(request, i);
        expect(v.caption.toLowerCase()).toContain(noun);
        expect(EMOJI.test(v.caption)).toBe(request.include_emojis);
        if (request.style === 'professional' || request.style === 'minimalist') expect(v.emoji_count).toBeLessThanOrEqual(1);
        const ctas = [...ENGLISH.styles[request.style].ctas, ...ENGLISH.shortCtas];
        expect(ctas.some((c) => v.caption.includes(c))).toBe(request.include_cta);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps every rule for any description, whatever its script, symbols or emojis', () => {
    const anyText = fc.oneof(
      fc.string({ unit: 'grapheme', minLength: 5, maxLength: 300 }),
      fc.string({ unit: 'binary', minLength: 5, maxLength: 300 }),
      fc.constantFrom('!!!!!', '12345 67890', '🌅🌅🌅🌅🌅', '#tbt @friend http://x.y/z', '東京タワーの夜景がきれい', 'the of and to a in', 'constructor __proto__ toString hasOwnProperty'),
    );
    fc.assert(
      fc.property(requestArb, anyText.filter((d) => d.trim().length >= 5), fc.nat(20), ({ request }, description, i) => {
        const v = sut.generate(withDefaults({ ...request, content_description: description.trim() }), i);
        expect(v.character_count).toBeLessThanOrEqual(request.max_length);
        expect(v.hashtags).toHaveLength(request.include_hashtags ? request.hashtag_count : 0);
        for (const h of v.hashtags) expect(h).toMatch(VALID_HASHTAG);
        expect(EMOJI.test(v.caption)).toBe(request.include_emojis);
        expect(v.caption).not.toMatch(/[<>#@]/);
      }),
      { numRuns: 60 },
    );
  });

  it('is deterministic for the same request', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(99), ({ request }, i) => {
        expect(new TemplateCaptionEngine().generate(copy(request), i)).toEqual(sut.generate(request, i));
      }),
      { numRuns: 30 },
    );
  });

  it('takes the object, not a leading verb, as the subject, and keeps -ing nouns', () => {
    const launch = sut.generate(withDefaults({ content_description: 'Launching our new trail running shoes', style: 'minimalist' }), 0);
    expect(launch.caption.toLowerCase()).toContain('trail running shoes');
    expect(launch.caption.toLowerCase()).not.toContain('launching');
    const wedding = sut.generate(withDefaults({ content_description: 'Wedding at the lighthouse', style: 'minimalist' }), 0);
    expect(wedding.caption.toLowerCase()).toContain('wedding');
  });

  it('ignores the order of fields in the request', () => {
    const a = withDefaults({ content_description: 'Vintage bicycle repair workshop', style: 'casual', brand_info: { name: 'Velo', voice: 'bold', keywords: ['bikes'] } });
    const b = withDefaults({ brand_info: { keywords: ['bikes'], voice: 'bold', name: 'Velo' }, style: 'casual', content_description: 'Vintage bicycle repair workshop' });
    expect(sut.generate(b, 3)).toEqual(sut.generate(a, 3));
  });

  it('makes variations that differ in wording, and hashtag lists that differ between them', () => {
    fc.assert(
      fc.property(requestArb, fc.integer({ min: 2, max: 10 }), ({ request }, n) => {
        fc.pre(request.max_length >= TemplateCaptionEngine.minimumLength(request) + 60);
        const vs = Array.from({ length: n }, (_, i) => sut.generate(request, i));
        expect(new Set(vs.map((v) => v.caption)).size).toBe(n);
      }),
      { numRuns: 40 },
    );
  });

  it('keeps the best of more drafts at higher optimization levels', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), ({ request }, i) => {
        const fast = sut.generate(withDefaults({ ...request, optimization_level: 'ultra_fast' }), i);
        const best = sut.generate(withDefaults({ ...request, optimization_level: 'maximum_quality' }), i);
        expect(best.quality_score).toBeGreaterThanOrEqual(fast.quality_score);
      }),
      { numRuns: 40 },
    );
  });

  it('keeps minimalist captions to a few words and makes storytelling a narrative', () => {
    const base = { content_description: 'Handmade ceramic mugs fresh from the kiln', include_cta: false };
    const minimal = sut.generate(withDefaults({ ...base, style: 'minimalist' }), 0);
    expect(minimal.word_count).toBeLessThanOrEqual(6);
    const story = sut.generate(withDefaults({ ...base, style: 'storytelling' }), 0);
    expect(story.caption.split(/[.!?]\s/).length).toBeGreaterThanOrEqual(3);
  });

  it('draws hashtags from the description and the brand first, and differs between requests', () => {
    const a = sut.generate(withDefaults({ content_description: 'Vintage bicycle repair workshop', brand_info: { keywords: ['velo club'] }, hashtag_count: 8 }), 0);
    expect(a.hashtags.slice(0, 5)).toEqual(expect.arrayContaining(['#bicycle', '#repair', '#workshop', '#veloclub']));
    const b = sut.generate(withDefaults({ content_description: 'Spicy ramen night with the team' }), 0);
    expect(b.hashtags.slice(0, 3)).not.toEqual(a.hashtags.slice(0, 3));
  });

  it('words a carousel as a swipe and a reel as a watch, and keeps a story short', () => {
    const carousel = sut.generate(withDefaults({ content_description: 'Ten outfits for autumn', content_type: 'carousel', max_length: 2200 }), 0);
    expect(carousel.caption).toMatch(/swip/i);
    const reel = sut.generate(withDefaults({ content_description: 'Ten outfits for autumn', content_type: 'reel' }), 0);
    expect(reel.caption).toMatch(/watch|play/i);
    const story = sut.generate(withDefaults({ content_description: 'Ten outfits for autumn', content_type: 'story', style: 'storytelling' }), 0);
    expect([...story.caption].length).toBeLessThanOrEqual(120);
  });
});

describe(`${TemplateCaptionEngine.name} hook`, () => {
  const sut = new TemplateCaptionEngine();
  const anyLanguage = fc.constantFrom<Array<'english' | 'spanish'>>('english', 'spanish');
  const firstChars = (text: string, n: number) => [...text].slice(0, n).join('');

  it('reads the opening sentence up to its first stop or line break', () => {
    expect(openingSentence('Golden hour. Again.')).toBe('Golden hour.');
    expect(openingSentence('Wait... what? Yes')).toBe('Wait...');
    expect(openingSentence('Version 2.0 is out! Try it')).toBe('Version 2.0 is out!');
    expect(openingSentence('Just me and the sea 🌊\nTag a friend.')).toBe('Just me and the sea 🌊');
    expect(openingSentence('No stop at all')).toBe('No stop at all');
  });

  it('ends the opening sentence within the 125 characters shown before "more", in every style, content type and language', () => {
    fc.assert(
      fc.property(requestArb, anyLanguage, fc.nat(20), ({ request, noun }, language, i) => {
        const v = sut.generate(withDefaults({ ...request, language }), i);
        expect([...openingSentence(v.caption)].length).toBeLessThanOrEqual(HOOK_CHARS);
        // The hook carries the subject (in English the noun is the description's own word).
        if (language === 'english') expect(firstChars(v.caption, HOOK_CHARS).toLowerCase()).toContain(noun);
      }),
      { numRuns: 60 },
    );
  });

  it('ends the opening sentence within the hook for any description, subject at its longest included', () => {
    const longWords = fc
      .array(fc.constantFrom('extraordinarily', 'magnificent', 'handcrafted', 'Scandinavian', 'photographers', 'international', 'of', 'the', 'with'), { minLength: 2, maxLength: 14 })
      .map((w) => w.join(' '));
    const anyText = fc.oneof(longWords, fc.string({ unit: 'grapheme', minLength: 5, maxLength: 300 }), fc.string({ unit: 'binary', minLength: 5, maxLength: 300 }));
    fc.assert(
      fc.property(requestArb, anyText.filter((d) => d.trim().length >= 5), anyLanguage, fc.nat(20), ({ request }, description, language, i) => {
        const v = sut.generate(withDefaults({ ...request, language, content_description: description.trim() }), i);
        expect([...openingSentence(v.caption)].length).toBeLessThanOrEqual(HOOK_CHARS);
      }),
      { numRuns: 50 },
    );
  });

  it('puts the core on a line of its own, or writes the shortest form, when the opening would run past a shorter hook', () => {
    fc.assert(
      fc.property(fc.integer({ min: 40, max: HOOK_CHARS }), requestArb, anyLanguage, fc.nat(9), (hookChars, { request }, language, i) => {
        const v = new TemplateCaptionEngine({ hookChars }).generate(withDefaults({ ...request, language }), i);
        expect([...openingSentence(v.caption)].length).toBeLessThanOrEqual(hookChars);
        expect(v.character_count).toBeLessThanOrEqual(request.max_length);
      }),
      { numRuns: 50 },
    );
    const request = withDefaults({ content_description: 'Scandinavian woodworking techniques explained', style: 'educational', include_emojis: false, request_id: 'hook-1' });
    const narrow = new TemplateCaptionEngine({ hookChars: 60 });
    // Variation 6 opens with a core line and no stop before its tip: 111 characters to the first stop.
    const core = "Save this: a beginner's guide to woodworking techniques";
    const wide = sut.generate(request, 6).caption;
    expect(wide.startsWith(`${core} Step one:`)).toBe(true);
    expect(narrow.generate(request, 6).caption).toBe(wide.replace(`${core} `, `${core}\n`));
    // Variation 0's core is one sentence of 84 characters: only the shortest form fits a 60-character hook.
    expect(narrow.generate(request, 0).caption).toMatch(/^Woodworking techniques\. /);
    expect(() => new TemplateCaptionEngine({ hookChars: 39 })).toThrow(RangeError);
  });
});

/** Every tag a bank can suggest (curated, topic, audience, content type, short), as the engine writes them. */
const bankTags = (bank: typeof ENGLISH) => [
  ...Object.values(bank.styleTags).flat(),
  ...Object.values(bank.topics).flatMap((t) => t.tags),
  ...Object.values(bank.audiences).flatMap((a) => a.tags),
  ...Object.values(bank.contentTypes).flatMap((c) => c.tags),
  ...bank.shortTags,
].map((t) => `#${t.toLowerCase()}`);
/** Words that are generic tags once written as one (`viral reels` → #viral, #reels), for descriptions and brand keywords. */
const GENERIC_WORDS = DEFAULT_HASHTAG_BLOCKLIST.map((t) => t.slice(1));

describe(`${TemplateCaptionEngine.name} hashtag blocklist`, () => {
  it('never emits a tag of the default blocklist, even one the description, brand or bank suggests', () => {
    const sut = new TemplateCaptionEngine();
    const withGenericWords = fc
      .tuple(requestArb, fc.subarray(GENERIC_WORDS, { minLength: 1 }), fc.subarray(GENERIC_WORDS), fc.constantFrom<Array<'english' | 'spanish'>>('english', 'spanish'))
      .map(([{ request }, words, keywords, language]) => {
        const r = withDefaults({ ...request, language, content_description: `${words.join(' ')} ${request.content_description}`, brand_info: { ...request.brand_info, keywords } });
        r.max_length = Math.max(r.max_length, TemplateCaptionEngine.minimumLength(r));
        return r;
      });
    fc.assert(
      fc.property(withGenericWords, fc.nat(9), (request, i) => {
        const v = sut.generate(request, i);
        expect(v.hashtags).toHaveLength(request.include_hashtags ? request.hashtag_count : 0);
        expect(new Set(v.hashtags).size).toBe(v.hashtags.length);
        for (const h of v.hashtags) expect(DEFAULT_HASHTAG_BLOCKLIST).not.toContain(h);
      }),
      { numRuns: 60 },
    );
  });

  it('never emits a tag of any blocklist that leaves enough fallback tags, and still gives exactly hashtag_count', () => {
    const english = [...new Set(bankTags(ENGLISH))];
    const shortTags = ENGLISH.shortTags.map((t) => `#${t}`);
    // Any of the bank's longer tags, the description's words, and up to 10 of its short tags (30 stay).
    const blocklistArb = fc
      .tuple(
        fc.subarray(english.filter((t) => !shortTags.includes(t))),
        fc.subarray(shortTags, { maxLength: shortTags.length - 30 }),
        fc.subarray(['#pancakes', 'Bicycle', '#LIGHTHOUSE', 'vintage', '#golden', 'harbor', '#handcrafted', 'Velo_Club', '#kitestudio']),
      )
      .map((parts) => parts.flat());
    fc.assert(
      fc.property(blocklistArb, requestArb, fc.nat(9), (blocklist, { request }, i) => {
        const sut = new TemplateCaptionEngine({ hashtagBlocklist: blocklist, maxHashtags: 30 });
        const blocked = new Set(blocklist.map((b) => `#${b.replace(/^#/, '').toLowerCase()}`));
        const v = sut.generate(request, i);
        expect(v.hashtags).toHaveLength(request.include_hashtags ? request.hashtag_count : 0);
        expect(new Set(v.hashtags).size).toBe(v.hashtags.length);
        expect(v.character_count).toBeLessThanOrEqual(request.max_length);
        for (const h of v.hashtags) expect(blocked.has(h)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('falls back on the short tags when the blocklist takes every other one, and refuses a blocklist that leaves too few', () => {
    const english = [...new Set(bankTags(ENGLISH))];
    const shortTags = ENGLISH.shortTags.map((t) => `#${t}`);
    const kept = shortTags.slice(0, 30);
    const blocklist = english.filter((t) => !kept.includes(t));
    const sut = new TemplateCaptionEngine({ hashtagBlocklist: blocklist, maxHashtags: 30 });
    // A description of stop words only: no tag of its own, so all 30 come from the fallback tags left.
    const v = sut.generate(withDefaults({ content_description: 'the of and to a in', hashtag_count: 30, content_type: 'reel', audience: 'gen_z' }), 0);
    expect([...v.hashtags].sort()).toEqual([...kept].sort());
    expect(() => new TemplateCaptionEngine({ hashtagBlocklist: [...blocklist, kept[0]!], maxHashtags: 30 })).toThrow(
      /the blocklist leaves 29 of the english short fallback tags, and 30 hashtags need 30/,
    );
    // The same blocklist is fine where requests may ask for fewer.
    expect(() => new TemplateCaptionEngine({ hashtagBlocklist: [...blocklist, kept[0]!], maxHashtags: 5 })).not.toThrow();
  });

  it('keys its cached variations by its blocklist', () => {
    const a = new TemplateCaptionEngine();
    expect(new TemplateCaptionEngine({ hashtagBlocklist: [...DEFAULT_HASHTAG_BLOCKLIST].reverse().map((t) => t.toUpperCase()) }).cacheName).toBe(a.cacheName);
    expect(new TemplateCaptionEngine({ hashtagBlocklist: ['#fyp'] }).cacheName).not.toBe(a.cacheName);
    expect(a.cacheName.startsWith(`${a.name}+`)).toBe(true);
  });
});

const SUSTANTIVOS = ['tortitas', 'bicicleta', 'faro', 'zapatillas', 'cuaderno', 'cascada', 'guitarra', 'huerto'];
const ADJETIVOS = ['caseras', 'antigua', 'luminoso', 'nuevas', 'pequeño', 'precioso'];
const LUGARES = ['terraza', 'playa', 'montaña', 'plaza', 'cocina'];
const FORMAS = [
  (n: string, a: string, l: string) => `${n} ${a} en la ${l}`,
  (n: string, a: string, l: string) => `${n} de la ${l}, ${a} y con amigos.`,
  (n: string, a: string, l: string) => `¡${n} ${a} para la ${l}! Hecho a mano, enviado esta semana.`,
];
/** English sentences that must never appear in a Spanish caption. */
const ENGLISH_SENTENCES = Object.values(ENGLISH.styles).flatMap((st) => [...st.ctas, ...Object.values(st.words).flat()]).concat(ENGLISH.shortCtas);

describe(`${TemplateCaptionEngine.name} in Spanish`, () => {
  const sut = new TemplateCaptionEngine();
  const spanishArb = fc
    .record({
      parts: fc.tuple(fc.constantFrom(...SUSTANTIVOS), fc.constantFrom(...ADJETIVOS), fc.constantFrom(...LUGARES), fc.constantFrom(...FORMAS)),
      style: fc.constantFrom(...CAPTION_STYLES),
      audience: fc.constantFrom(...AUDIENCES),
      content_type: fc.constantFrom(...CONTENT_TYPES),
      hashtag_count: fc.integer({ min: 1, max: 30 }),
      include_hashtags: fc.boolean(),
      include_emojis: fc.boolean(),
      include_cta: fc.boolean(),
      slack: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 2200 })),
    })
    .map(({ parts: [n, a, l, forma], slack, ...fields }) => {
      const request = withDefaults({ ...fields, language: 'spanish', content_description: forma(n, a, l) });
      request.max_length = Math.min(2200, Math.max(50, TemplateCaptionEngine.minimumLength(request)) + slack);
      return { request, noun: n };
    });

  it('writes Spanish captions that keep every rule, with no English sentence in them', () => {
    fc.assert(
      fc.property(spanishArb, fc.nat(9), ({ request, noun }, i) => {
        const v = sut.generate(request, i);
        expect(v.character_count).toBeLessThanOrEqual(request.max_length);
        expect(v.hashtags).toHaveLength(request.include_hashtags ? request.hashtag_count : 0);
        expect(new Set(v.hashtags.map((h) => h.toLowerCase())).size).toBe(v.hashtags.length);
        for (const h of v.hashtags) expect(h).toMatch(VALID_HASHTAG);
        expect(v.caption.toLowerCase()).toContain(noun);
        expect(EMOJI.test(v.caption)).toBe(request.include_emojis);
        const ctas = [...SPANISH.styles[request.style].ctas, ...SPANISH.shortCtas];
        expect(ctas.some((c) => v.caption.includes(c))).toBe(request.include_cta);
        for (const sentence of ENGLISH_SENTENCES) expect(v.caption).not.toContain(sentence);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps a Spanish noun phrase whole, head first ("tortitas de fresa")', () => {
    const v = sut.generate(withDefaults({ language: 'spanish', content_description: 'Tortitas de fresa caseras para un domingo tranquilo', style: 'minimalist' }), 0);
    expect(v.caption.toLowerCase()).toContain('tortitas de fresa');
    expect(v.hashtags[0]).toBe('#tortitasdefresacaseras');
  });

  it('scores readability with the Spanish formula, not the English one', () => {
    const request = withDefaults({ language: 'spanish', content_description: 'Paseo en bicicleta por la playa al atardecer', include_emojis: false });
    const v = sut.generate(request, 0);
    expect(v.readability_score).toBeGreaterThan(0);
    expect(v.readability_score).toBeLessThanOrEqual(100);
    expect(v.readability_score).toBeCloseTo(Math.min(100, Math.max(0, SPANISH.readability(v.caption))), 1);
  });
});
