import { ApiError } from '../../common/errors/api-error.js';
import type { CaptionGenerationRequest } from '../dto/caption-generation-request.dto.js';
import type { CaptionEngine, FallbackReason, RequestProblem } from './caption-engine.js';
import type { LlmCaptionEngine } from './llm/llm-caption.engine.js';
import { captionFallbacks } from './llm/llm.metrics.js';

/** `CAPTION_ENGINE`: `auto` is the LLM when one is configured, else the offline engine. */
export type EngineMode = 'template' | 'llm' | 'auto';

/** The engine a request goes to, and why the LLM was passed over when it was. */
export interface ResolvedEngine {
  engine: CaptionEngine;
  fallback_reason?: FallbackReason;
}

/**
 * Chooses the engine of each request. With an LLM engine in use, every request goes to it, except
 * while its circuit breaker is open: then a request the offline engine can write goes straight to
 * the offline engine (its variations cached under the offline engine's name) with `fallback_reason`
 * `llm_circuit_open`. Without one, the offline engine writes everything it can, and a language only
 * a language model writes is refused with a 422 that says how to serve it.
 */
export class CaptionEngineSelection {
  constructor(
    readonly offline: CaptionEngine,
    readonly llm: LlmCaptionEngine | undefined,
    /** An LLM is configured (`LLM_BASE_URL`) even if `CAPTION_ENGINE=template` leaves it unused. */
    private readonly llmConfigured: boolean,
  ) {}

  /** Stops the engines' threads when the server stops (after the HTTP server closed: a stream in flight still drafts). */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.offline.close(), this.llm?.close()]);
  }

  /** The engine requests go to when nothing goes wrong (`model_used` of a normal response). */
  get primary(): CaptionEngine {
    return this.llm ?? this.offline;
  }

  /** What no engine of this server can do for `request`; empty when one can. */
  check(request: CaptionGenerationRequest): RequestProblem[] {
    if (this.llm) return this.llm.check(request);
    const problems = this.offline.check(request);
    if (this.offline.languages.includes(request.language)) return problems;
    const how = this.llmConfigured
      ? 'which CAPTION_ENGINE=template turns off: set CAPTION_ENGINE=auto or llm to serve it'
      : 'and none is configured: set LLM_BASE_URL and LLM_MODEL (CAPTION_ENGINE=auto or llm) to serve it';
    return [
      ...problems.filter((p) => p.field !== 'language'),
      {
        field: 'language',
        message: `${request.language} is written only by the LLM engine, ${how}; written offline: ${this.offline.languages.join(', ')}`,
      },
    ];
  }

  /**
   * The engine for `request` now (call after {@link check} found nothing).
   * @throws ApiError 503 `not_ready` (with `Retry-After`) while the breaker is open for a language only the model writes.
   */
  resolve(request: CaptionGenerationRequest): ResolvedEngine {
    const llm = this.llm;
    if (!llm) return { engine: this.offline };
    if (llm.circuitOpen && !llm.canFallBack(request)) {
      throw new ApiError(
        503,
        'not_ready',
        `${request.language} is written only by the LLM engine, which failed repeatedly and is skipped for now; try again later`,
        undefined,
        { 'Retry-After': String(llm.cooldownLeftSeconds) },
      );
    }
    if (llm.circuitOpen) {
      const reason: FallbackReason = { code: 'llm_circuit_open', message: 'the model failed repeatedly; the circuit breaker is open' };
      captionFallbacks.inc({ code: reason.code });
      return { engine: this.offline, fallback_reason: reason };
    }
    return { engine: llm };
  }
}
