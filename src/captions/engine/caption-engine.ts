import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CaptionGenerationRequest } from '../dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../dto/caption-generation-response.dto.js';
import type { Language } from '../dto/caption-options.js';

/** A rule of the engine that a valid request still breaks (answered 422 naming the field). */
export interface RequestProblem {
  field: string;
  message: string;
}

/** Which of a request's variations to draft: `count` of them from engine index `first`. */
export interface DraftRange {
  first: number;
  count: number;
}

/**
 * Why a configured LLM engine did not write the variations and the offline engine did: a short
 * machine-readable `code` (see docs/captions-engine.md) and a sentence for people.
 */
export interface FallbackReason {
  code: FallbackCode;
  message: string;
}

/** Every `fallback_reason.code`. */
export const FALLBACK_CODES = [
  'llm_circuit_open',
  'llm_timeout',
  'llm_rate_limited',
  'llm_unavailable',
  'llm_rejected',
  'llm_invalid_output',
] as const;
export type FallbackCode = (typeof FALLBACK_CODES)[number];

/** Variations as drafted, and who wrote them. */
export interface Drafts {
  variations: CaptionVariation[];
  /** Name and model of the engine that wrote them (`model_used`). */
  model: string;
  /** Set when the engine asked could not serve and its fallback wrote them. */
  fallback_reason?: FallbackReason;
}

/**
 * The port every caption engine implements; the abstract class is also the DI token. Drafting is
 * asynchronous ({@link draftVariations}): an engine may draft over the network (the LLM engine).
 * An engine that writes one variation at a time in memory extends {@link SyncCaptionEngine}.
 */
export abstract class CaptionEngine {
  /** Name and version, reported as `model_used` (e.g. `template-engine@1.1.0`). */
  abstract readonly name: string;

  /**
   * What the cache keys this engine's variations by: its `name`, plus whatever setting changes the
   * text of the same request (a hashtag blocklist, a model…), so variations made under other
   * settings are never served. Defaults to `name`.
   */
  get cacheName(): string {
    return this.name;
  }

  /** Variations one {@link draftVariations} call should cover (the loader's chunk size for this engine). */
  get draftSize(): number {
    return 5;
  }

  /** Languages this engine writes; others are refused by {@link check}. */
  abstract readonly languages: readonly Language[];

  /** What this engine cannot do for `request` (unsupported language, `max_length` too short…); empty when it can. */
  abstract check(request: CaptionGenerationRequest): RequestProblem[];

  /**
   * Variations `range.first … range.first + range.count − 1` of `request`; variation i differs
   * from variation j in structure and wording. Rejects with the signal's reason as soon as
   * `signal` aborts. When `sink` is given, each variation is pushed into it as soon as it is made,
   * so a caller whose signal aborts still holds (and stores) what was drafted.
   * @throws RangeError when `check(request)` reports a problem.
   */
  abstract draftVariations(request: CaptionGenerationRequest, range: DraftRange, signal: AbortSignal, sink?: CaptionVariation[]): Promise<Drafts>;

  /**
   * `confidence_score` (0–1) of a response made of `variations`; a promise when the engine must
   * first load what reads the description (a response served from the cache before any draft).
   */
  abstract confidence(request: CaptionGenerationRequest, variations: CaptionVariation[]): number | Promise<number>;

  /** Lets go of what the engine holds (threads, connections) when the server stops; nothing by default. */
  async close(): Promise<void> {}
}

/**
 * An engine that writes one variation at a time, synchronously and in memory (the template
 * engine): it implements {@link generate}, and drafting a range is a thin wrapper that calls it
 * for each variation, yielding to the event loop between them so a socket is served (and a client
 * that left is noticed) while a chunk is drafted.
 */
export abstract class SyncCaptionEngine extends CaptionEngine {
  /**
   * Variation `variationIndex` of `request`: deterministic for the same request (`request_id`
   * included), and variation i differs from variation j in structure and wording.
   * @throws RangeError when `check(request)` reports a problem.
   */
  abstract generate(request: CaptionGenerationRequest, variationIndex: number): CaptionVariation;

  async draftVariations(request: CaptionGenerationRequest, range: DraftRange, signal: AbortSignal, sink: CaptionVariation[] = []): Promise<Drafts> {
    const variations = sink;
    for (let i = range.first; i < range.first + range.count; i++) {
      await yieldToLoop();
      signal.throwIfAborted();
      variations.push(this.generate(request, i));
    }
    return { variations, model: this.name };
  }
}
