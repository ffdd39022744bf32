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
  /** Reading ease of the caption by its language's formula (Flesch, Fernández Huerta, Kandel–Moles, Amstad, Gulpease, Martins et al.), clamped 0–100. */
  readability_score!: number;
  /** Words of the caption text (hashtags not counted). */
  @ApiInt() word_count!: number;
  /** Unicode code points of the post as published: caption, blank line, hashtags. Never above `max_length`. */
  @ApiInt() character_count!: number;
  @ApiInt() emoji_count!: number;
}

/** Why the configured LLM engine did not write the variations, and the offline engine did. */
export class FallbackReason {
  /**
   * `llm_circuit_open` (the model failed repeatedly; requests skip it for a while), `llm_timeout`,
   * `llm_rate_limited` (429 after the retries), `llm_unavailable` (5xx or unreachable after the
   * retries), `llm_rejected` (another 4xx: key, model name…), `llm_invalid_output` (the replies
   * broke the request's rules, redrafted once).
   */
  code!: 'llm_circuit_open' | 'llm_timeout' | 'llm_rate_limited' | 'llm_unavailable' | 'llm_rejected' | 'llm_invalid_output';
  message!: string;
}

/** `CaptionGenerationResponse`: the variations, their scores, and how they were made. */
export class CaptionGenerationResponse {
  request_id!: string;
  variations!: CaptionVariation[];
  /** Seconds this request took, measured. */
  processing_time!: number;
  /** True when every variation came from the lazy loader's tiers, not from the engine. */
  cache_hit!: boolean;
  /** The engine (name and version) and, for the LLM engine, the model that actually wrote the variations. */
  model_used!: string;
  /** Present only when a configured LLM engine could not serve and the offline engine wrote the variations. */
  fallback_reason?: FallbackReason;
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
  /** 0–1, as in `CaptionVariation`. */
  engagement_prediction!: number;
  /** 0–100, as in `CaptionVariation`. */
  readability_score!: number;
  /** The engine (and model) that wrote this variation: with `fallback_reason`, the offline engine standing in. */
  model_used!: string;
  /** Present only when a configured LLM engine could not serve this variation and the offline engine wrote it. */
  fallback_reason?: FallbackReason;
  /** Seconds from the start of the stream to this item. */
  processing_time!: number;
  /** Unix seconds when the item was made. */
  timestamp!: number;
}
