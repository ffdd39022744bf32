import type { API_VERSION } from '../../common/domain/api-version.js';
import { ApiInt } from '../../common/openapi/schema-rules.js';

/** One caption (`CaptionVariation`). */
export class CaptionVariation {
  /** The caption text, without the hashtags. */
  caption!: string;
  /** Unique (ignoring case), each `#` + letters, digits or `_`; exactly `hashtag_count` when hashtags are on. */
  hashtags!: string[];
  /** 0–100, from measurable properties (see docs/captions-engine.md). */
  quality_score!: number;
  /** 0–1, from the quality and the content type. */
  engagement_prediction!: number;
  /** Flesch reading ease of the caption, clamped 0–100. */
  readability_score!: number;
  /** Words of the caption text (hashtags not counted). */
  @ApiInt() word_count!: number;
  /** Unicode code points of the post as published: caption, blank line, hashtags. Never above `max_length`. */
  @ApiInt() character_count!: number;
  @ApiInt() emoji_count!: number;
}

/** `CaptionGenerationResponse`: the variations, their scores, and how they were made. */
export class CaptionGenerationResponse {
  request_id!: string;
  variations!: CaptionVariation[];
  /** Seconds this request took, measured. */
  processing_time!: number;
  /** True when every variation came from the lazy loader's tiers, not from the engine. */
  cache_hit!: boolean;
  /** Engine name and version. */
  model_used!: string;
  /** Share of the description's key terms that the variations use (0–1). */
  confidence_score!: number;
  @ApiInt() best_variation_index!: number;
  average_quality_score!: number;
  generated_at!: string;
  api_version!: typeof API_VERSION;
  optimization_level!: string;
}

/** One item of `POST /stream-captions`. */
export class CaptionStreamItem {
  @ApiInt() variation_index!: number;
  caption!: string;
  hashtags!: string[];
  quality_score!: number;
  /** Seconds from the start of the stream to this item. */
  processing_time!: number;
  /** Unix seconds when the item was made. */
  timestamp!: number;
}
