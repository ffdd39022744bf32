/** The caption styles: shared by captions (generation) and history (filters). */
export const CAPTION_STYLES = [
  'casual',
  'professional',
  'inspirational',
  'playful',
  'educational',
  'promotional',
  'storytelling',
  'minimalist',
] as const;
export type CaptionStyle = (typeof CAPTION_STYLES)[number];
