import type { CaptionGenerationRequest } from '../dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../dto/caption-generation-response.dto.js';
import type { Language } from '../dto/caption-options.js';

/** A rule of the engine that a valid request still breaks (answered 422 naming the field). */
export interface RequestProblem {
  field: string;
  message: string;
}

/**
 * The port every caption engine implements; the abstract class is also the DI token. The
 * built-in {@link TemplateCaptionEngine} is the default adapter; an LLM-backed one can be bound
 * in its place.
 */
export abstract class CaptionEngine {
  /** Name and version, reported as `model_used` (e.g. `template-engine@1.1.0`). */
  abstract readonly name: string;

  /**
   * What the cache keys this engine's variations by: its `name`, plus whatever setting changes the
   * text of the same request (a hashtag blocklist…), so variations made under other settings are
   * never served. Defaults to `name`.
   */
  get cacheName(): string {
    return this.name;
  }
  /** Languages with real phrase banks; others are refused with 422. */
  abstract readonly languages: readonly Language[];

  /** What this engine cannot do for `request` (unsupported language, `max_length` too short…); empty when it can. */
  abstract check(request: CaptionGenerationRequest): RequestProblem[];

  /**
   * Variation `variationIndex` of `request`: deterministic for the same request (`request_id`
   * included), and variation i differs from variation j in structure and wording.
   * @throws RangeError when `check(request)` reports a problem.
   */
  abstract generate(request: CaptionGenerationRequest, variationIndex: number): CaptionVariation;

  /** `confidence_score` (0–1) of a response made of `variations`. */
  abstract confidence(request: CaptionGenerationRequest, variations: CaptionVariation[]): number;
}
