import { HISTORY_STYLES } from './history.types.js';
import type { NewHistoryRow } from './history.types.js';

// A plain realistic generator for `npm run seed` (the caption engine is another module, and history
// must not depend on it). Deterministic for a seed, cheap enough for 100,000+ rows a second.

const AUDIENCES = ['general', 'business', 'millennials', 'gen_z', 'creators', 'lifestyle', 'fitness', 'food', 'travel', 'fashion'];
const CONTENT_TYPES = ['post', 'story', 'reel', 'igtv', 'carousel', 'highlight'];
const LANGUAGES = ['english', 'english', 'english', 'spanish', 'french', 'german', 'italian', 'portuguese', 'japanese', 'korean'];
const SUBJECTS = ['morning coffee', 'sunset hike', 'new product launch', 'homemade pasta', 'city walk', 'beach day', 'studio session',
  'weekend market', 'first marathon', 'team offsite', 'rainy afternoon', 'garden harvest', 'road trip', 'gallery opening', 'workout routine'];
const OPENERS: Record<string, string[]> = {
  casual: ['Just a little', 'Nothing beats a', 'Caught this', 'Living for this'],
  professional: ['Proud to share our', 'Key takeaways from our', 'Behind the scenes of our', 'Announcing our'],
  inspirational: ['Every journey starts with a', 'Find your calm in a', 'Small steps, big dreams:', 'Remember this'],
  playful: ['Plot twist: a', 'Warning: extreme cuteness in this', 'Who else needs a', 'POV: your'],
  educational: ['3 things we learned from a', 'How to plan the perfect', 'The science behind a', 'A quick guide to your'],
  promotional: ['Limited time: celebrate your', 'New drop for your', 'Save 20% on your next', 'Get ready for the'],
  storytelling: ['It started as an ordinary', 'I never expected this', 'Five years ago I dreamed of a', 'This is the story of a'],
  minimalist: ['Just', 'Simply', 'Only', 'Quiet'],
};
const CLOSERS = ['What would you add?', 'Tag someone who needs this.', 'Save this for later.', 'Link in bio.', 'Share your favourite below.', ''];
const EMOJIS = ['✨', '🌿', '☕', '🔥', '💡', '🌅', '📸', '💪', '🍝', '🎉'];
const TAGS = ['#instagood', '#photooftheday', '#love', '#lifestyle', '#travel', '#foodie', '#fitness', '#motivation', '#smallbusiness',
  '#weekend', '#nature', '#coffee', '#style', '#inspiration', '#community', '#reels', '#explore', '#creative', '#goals', '#happy'];

/** mulberry32: a tiny, fast, seedable PRNG (quality is plenty for test data). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SeedPlan {
  rows: number;
  users: number;
  days: number;
  /** The newest timestamp (ms); rows spread evenly over `days` before it, oldest first. */
  endMs: number;
  seed?: number;
}

// Everything a row is assembled from is built once: a row then costs a few array picks, which
// keeps the seed's CPU (and garbage) per row low. Every caption combination is in the pool, so the
// distribution is the same as building each string anew.
const CAPTIONS: Record<string, string[]> = Object.fromEntries(
  HISTORY_STYLES.map((style) => [
    style,
    OPENERS[style]!.flatMap((o) => SUBJECTS.flatMap((s) => EMOJIS.flatMap((e) => CLOSERS.map((c) => `${o} ${s} ${e} ${c}`.trim())))),
  ]),
);
const HASHTAG_SETS: string[][] = (() => {
  const rnd = prng(7);
  return Array.from({ length: 2048 }, () => {
    const tags = new Set<string>();
    const n = 3 + Math.floor(rnd() * 8);
    while (tags.size < n) tags.add(TAGS[Math.floor(rnd() * TAGS.length)]!);
    return [...tags];
  });
})();

/** Rows `[start, start+count)` of the plan, oldest first, so inserts append to every index. */
export function seedRows(plan: SeedPlan, start: number, count: number): NewHistoryRow[] {
  const rnd = prng((plan.seed ?? 42) + start);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const users = Array.from({ length: Math.min(plan.users, 1_000_000) }, (_, u) => `user_${u}`);
  const spanMs = plan.days * 86_400_000;
  const out: NewHistoryRow[] = [];
  for (let i = start; i < Math.min(plan.rows, start + count); i++) {
    const style = pick(HISTORY_STYLES);
    const quality = 55 + rnd() * 44;
    out.push({
      user_id: pick(users),
      caption: pick(CAPTIONS[style]!),
      hashtags: pick(HASHTAG_SETS),
      style,
      audience: pick(AUDIENCES),
      content_type: pick(CONTENT_TYPES),
      language: pick(LANGUAGES),
      quality_score: Math.round(quality * 10) / 10,
      engagement_score: Math.round((quality / 100) * (0.6 + rnd() * 0.4) * 1000) / 1000,
      request_id: `seed-${i}`,
      created_at: new Date(plan.endMs - spanMs + Math.floor(((i + rnd()) / plan.rows) * spanMs)),
    });
  }
  return out;
}
