/** The enums of a caption request. */
export { CAPTION_STYLES, type CaptionStyle } from '../../common/domain/caption-styles.js';

export const AUDIENCES = [
  'general',
  'business',
  'millennials',
  'gen_z',
  'creators',
  'lifestyle',
  'fitness',
  'food',
  'travel',
  'fashion',
] as const;
export type Audience = (typeof AUDIENCES)[number];

export const CONTENT_TYPES = ['post', 'story', 'reel', 'igtv', 'carousel', 'highlight'] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

export const OPTIMIZATION_LEVELS = ['ultra_fast', 'fast', 'balanced', 'quality', 'maximum_quality'] as const;
export type OptimizationLevel = (typeof OPTIMIZATION_LEVELS)[number];

export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const LANGUAGES = [
  'english',
  'spanish',
  'french',
  'german',
  'italian',
  'portuguese',
  'russian',
  'japanese',
  'korean',
  'chinese',
] as const;
export type Language = (typeof LANGUAGES)[number];
