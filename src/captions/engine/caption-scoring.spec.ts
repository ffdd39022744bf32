import { describe, expect, it } from 'vitest';
import { withDefaults, type CaptionGenerationRequest } from '../dto/caption-generation-request.dto.js';
import { CAPTION_STYLES } from '../dto/caption-options.js';
import { analyse } from './caption-analysis.js';
import { assessCaption, PENALTIES, repeatedWords } from './caption-scoring.js';
import { groundedHashtags, numberFragments } from './grounding.js';
import { OFFLINE_BANKS } from './languages/offline-banks.js';
import { sentenceProblems } from './sentence-check.js';
import { TemplateCaptionEngine } from './template-caption.engine.js';

const sut = new TemplateCaptionEngine();

/** The rubric's view of a caption written for `request`. */
function assess(request: CaptionGenerationRequest, caption: string, hashtags: string[]) {
  const bank = OFFLINE_BANKS[request.language]!;
  const a = analyse(request, bank);
  return assessCaption({
    text: caption,
    hashtags,
    language: request.language,
    style: request.style,
    contentType: request.content_type,
    keyTerms: a.keyTerms,
    numbers: a.numbers,
    ground: a.ground,
    bank,
    includeHashtags: request.include_hashtags,
    includeEmojis: request.include_emojis,
    includeCta: request.include_cta,
    hasCta: request.include_cta,
    hookChars: 125,
  });
}

/** Captions the engine used to write (template-engine@1.1.0), each for its request. */
const BROKEN = [
  {
    request: withDefaults({ content_description: 'Quarterly revenue grew 20% thanks to our new subscription plans.', style: 'professional' }),
    caption: 'Introducing quarterly revenue grew. Quality you can rely on. 📈\nLearn more via the link in our bio.',
    hashtags: ['#quarterlyrevenuegrew', '#grew', '#20thanks', '#revenue', '#plans'],
  },
  {
    request: withDefaults({ content_description: 'Quarterly revenue grew 20% thanks to our new subscription plans.', style: 'promotional' }),
    caption: 'Just landed: quarterly revenue 🔥 Available now for a limited time. Featuring 20 thanks.\nShop now via the link in bio.',
    hashtags: ['#quarterlyrevenue', '#20thanks', '#grew', '#revenue', '#plans'],
  },
  {
    request: withDefaults({ content_description: 'Sunset hike up Mount Tamalpais with Sarah and the dogs', style: 'storytelling' }),
    caption: 'Some stories begin quietly. This one began with sunset hike. Step by step, it became something real. This is only the beginning. ✨\nFollow along for the next chapter.',
    hashtags: ['#sunsethike', '#mount', '#tamalpais', '#sarah', '#dogs'],
  },
  {
    request: withDefaults({ content_description: 'Baking sourdough bread in the oven on a rainy Sunday', style: 'casual' }),
    caption: 'Sourdough bread kind of day 😊 No filter needed. And oven, of course.\nThoughts?',
    hashtags: ['#bakingsourdoughbread', '#baking', '#oven', '#sourdough', '#bread'],
  },
];

describe('quality rubric', () => {
  it.each(BROKEN)('scores the old broken caption clearly below a good one for the same request: $caption', ({ request, caption, hashtags }) => {
    const broken = assess(request, caption, hashtags);
    const good = sut.generate(request, 0);
    const goodReport = assess(request, good.caption, good.hashtags);
    expect(goodReport.score).toBe(good.quality_score);
    expect(broken.penalties.map((p) => p.rule)).toContain('brokenSentence');
    expect(broken.score).toBeLessThanOrEqual(good.quality_score - PENALTIES.brokenSentence);
    expect(goodReport.penalties.filter((p) => p.rule === 'brokenSentence' || p.rule === 'ungroundedHashtag')).toEqual([]);
  });

  it('names each broken slot fill for what it is', () => {
    const en = OFFLINE_BANKS.english!;
    expect(sentenceProblems('Introducing quarterly revenue grew.', en).map((p) => p.problem)).toEqual(['dangling-verb']);
    expect(sentenceProblems('Featuring 20 thanks.', en).map((p) => p.problem)).toEqual(['dangling-verb']);
    expect(sentenceProblems('This one began with sunset hike.', en).map((p) => p.problem)).toEqual(['bare-noun']);
    expect(sentenceProblems('And oven, of course.', en).map((p) => p.problem)).toEqual(['bare-noun']);
    expect(sentenceProblems('It was an ordinary day until the sunset.', en).map((p) => p.problem)).toEqual(['no-verb']);
    for (const fine of ['This one began with a sunset hike.', 'And the oven, of course.', 'Introducing our new subscription plans.', 'Quick tip on the sunset: plan ahead and keep it simple.']) {
      expect(sentenceProblems(fine, en)).toEqual([]);
    }
    expect(numberFragments('Featuring 20 thanks.', ['20%'])).toEqual(['20']);
    expect(numberFragments('3 things to know: 20% more.', ['20%'])).toEqual([]);
  });

  it('takes off for repeated words, a long hook and another language', () => {
    const request = withDefaults({ content_description: 'Beautiful sunset at the beach', style: 'casual' });
    const base = 'Beautiful sunset at the beach ✨ Honestly the best part of the week.\nThoughts?';
    const tags = ['#sunset', '#beach'];
    const clean = assess(request, base, tags);
    expect(clean.penalties).toEqual([]);
    expect(repeatedWords('Sunset, sunset and the beach sunset.', OFFLINE_BANKS.english!.stopWords)).toEqual(['sunset']);
    const repeated = assess(request, 'Beautiful sunset at the beach ✨ The sunset was the best sunset of the week.\nThoughts?', tags);
    expect(repeated.penalties.map((p) => p.rule)).toContain('repeatedWord');
    const long = assess(request, `${'Beautiful sunset at the beach with '.repeat(4)}friends ✨\nThoughts?`, tags);
    expect(long.penalties.map((p) => p.rule)).toContain('longHook');
    const spanish = assess(request, 'Atardecer precioso en la playa ✨ Sin duda, lo mejor de la semana con los amigos.\n¿Qué opinas?', tags);
    expect(spanish.penalties.map((p) => p.rule)).toContain('wrongLanguage');
    expect(spanish.score).toBeLessThan(clean.score - PENALTIES.wrongLanguage + 1);
  });

  it('grounds hashtags in nouns, names and the brand, never in verbs, number fragments or pieces of a name', () => {
    const request = withDefaults({
      content_description: 'Quarterly revenue grew 20% thanks to our new subscription plans at Acme. Sunset hike up Mount Tamalpais.',
      brand_info: { name: 'Acme', keywords: ['saas growth'] },
    });
    const a = analyse(request, OFFLINE_BANKS.english!);
    const tags = ['#quarterlyrevenue', '#subscriptionplans', '#plans', '#mounttamalpais', '#acme', '#saasgrowth', '#grew', '#20thanks', '#mount', '#quarterlyrevenuegrew', '#banana'];
    expect(groundedHashtags(tags, a.ground)).toEqual({
      grounded: ['#quarterlyrevenue', '#subscriptionplans', '#plans', '#mounttamalpais', '#acme', '#saasgrowth'],
      fallback: [],
      ungrounded: ['#grew', '#20thanks', '#mount', '#quarterlyrevenuegrew', '#banana'],
    });
  });
});

/** Descriptions with verbs, numbers, names and brands: what used to end up in a noun slot or a tag. */
const TABLE = [
  { content_description: 'Quarterly revenue grew 20% thanks to our new subscription plans.' },
  { content_description: 'Sunset hike up Mount Tamalpais with Sarah and the dogs' },
  { content_description: 'Baking sourdough bread in the wood-fired oven' },
  { content_description: 'Apple just released the iPhone 17 Pro in Cupertino', brand_info: { name: 'TechDaily' } },
  { content_description: 'We opened our second bakery in Lisbon after 3 years of markets', brand_info: { name: 'Pão Bom', keywords: ['bakery'] } },
  { content_description: 'Launching our new trail running shoes from Nike at 30% off' },
  { content_description: 'Emma finished her first marathon in 3:45 yesterday!' },
  { content_description: 'Our team shipped version 2.5 of the app and users love it', brand_info: { name: 'Kite Studio', voice: 'bold' } },
];

describe('no broken slot fill', () => {
  it.each(TABLE)('in any style, for $content_description', (fields) => {
    for (const style of CAPTION_STYLES) {
      // One draft per variation: every draft, not only the best-scoring one, must be whole.
      const request = withDefaults({ ...fields, style, hashtag_count: 5, optimization_level: 'ultra_fast' });
      const a = analyse(request, OFFLINE_BANKS.english!);
      for (let i = 0; i < 10; i++) {
        const v = sut.generate(request, i);
        expect(sentenceProblems(v.caption, OFFLINE_BANKS.english!), v.caption).toEqual([]);
        expect(numberFragments(v.caption, a.numbers), v.caption).toEqual([]);
        expect(groundedHashtags(v.hashtags, a.ground).ungrounded, v.hashtags.join(' ')).toEqual([]);
        for (const tag of v.hashtags) expect(a.ground.verbs, tag).not.toContain(tag.slice(1));
        expect(v.caption).not.toMatch(/Introducing quarterly revenue grew|Featuring 20 thanks|began with sunset hike|And oven,/u);
      }
    }
  });
});
