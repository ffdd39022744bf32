import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withDefaults, type CaptionGenerationRequest } from '../src/captions/dto/caption-generation-request.dto.js';
import { AUDIENCES, CAPTION_STYLES, CONTENT_TYPES, OPTIMIZATION_LEVELS } from '../src/captions/dto/caption-options.js';
import { ENGLISH } from '../src/captions/engine/english-bank.js';
import { VALID_HASHTAG } from '../src/captions/engine/hashtag-picker.js';
import { FALLBACK_CTAS, TemplateCaptionEngine } from '../src/captions/engine/template-caption.engine.js';

const NOUNS = ['pancakes', 'bicycle', 'lighthouse', 'sneakers', 'espresso', 'notebook', 'waterfall', 'puppy', 'skyline', 'guitar'];
const ADJECTIVES = ['golden', 'tiny', 'handmade', 'vintage', 'bright', 'quiet', 'colorful'];
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
      { numRuns: 300 },
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
      { numRuns: 300 },
    );
  });

  it('puts the subject in the caption and obeys the emoji and CTA flags', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), ({ request, noun }, i) => {
        const v = sut.generate(request, i);
        expect(v.caption.toLowerCase()).toContain(noun);
        expect(EMOJI.test(v.caption)).toBe(request.include_emojis);
        if (request.style === 'professional' || request.style === 'minimalist') expect(v.emoji_count).toBeLessThanOrEqual(1);
        const ctas = [...ENGLISH.styles[request.style].ctas, ...FALLBACK_CTAS];
        expect(ctas.some((c) => v.caption.includes(c))).toBe(request.include_cta);
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic for the same request', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(99), ({ request }, i) => {
        expect(new TemplateCaptionEngine().generate(copy(request), i)).toEqual(sut.generate(request, i));
      }),
      { numRuns: 100 },
    );
  });

  it('makes variations that differ in wording, and hashtag lists that differ between them', () => {
    fc.assert(
      fc.property(requestArb, fc.integer({ min: 2, max: 10 }), ({ request }, n) => {
        fc.pre(request.max_length >= TemplateCaptionEngine.minimumLength(request) + 60);
        const vs = Array.from({ length: n }, (_, i) => sut.generate(request, i));
        expect(new Set(vs.map((v) => v.caption)).size).toBe(n);
      }),
      { numRuns: 150 },
    );
  });

  it('keeps the best of more drafts at higher optimization levels', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(9), ({ request }, i) => {
        const fast = sut.generate(withDefaults({ ...request, optimization_level: 'ultra_fast' }), i);
        const best = sut.generate(withDefaults({ ...request, optimization_level: 'maximum_quality' }), i);
        expect(best.quality_score).toBeGreaterThanOrEqual(fast.quality_score);
      }),
      { numRuns: 150 },
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
    const a = sut.generate(withDefaults({ content_description: 'Vintage bicycle repair workshop', brand_info: { keywords: ['velo club'] } }), 0);
    expect(a.hashtags.slice(0, 6)).toEqual(expect.arrayContaining(['#vintagebicyclerepair', '#bicycle', '#workshop', '#veloclub']));
    const b = sut.generate(withDefaults({ content_description: 'Spicy ramen night with the team' }), 0);
    expect(b.hashtags.slice(0, 3)).not.toEqual(a.hashtags.slice(0, 3));
  });

  it('words a carousel as a swipe and a reel as a watch', () => {
    const carousel = sut.generate(withDefaults({ content_description: 'Ten outfits for autumn', content_type: 'carousel', max_length: 2200 }), 0);
    expect(carousel.caption).toMatch(/swip/i);
    const reel = sut.generate(withDefaults({ content_description: 'Ten outfits for autumn', content_type: 'reel' }), 0);
    expect(reel.caption).toMatch(/watch|play/i);
  });
});
