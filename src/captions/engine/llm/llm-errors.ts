import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { FallbackCode, FallbackReason } from '../caption-engine.js';

/** The model answered, but no reply passed the checks (after the one redraft). */
export class InvalidOutputError extends Error {
  constructor(readonly problems: string[]) {
    super(`the model's reply broke the request's rules: ${problems.slice(0, 3).join('; ')}`);
    this.name = 'InvalidOutputError';
  }
}

/** A streamed answer fell silent for longer than the per-attempt timeout, or the whole draft ran out of time. */
export class LlmTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LlmTimeoutError';
  }
}

/**
 * Failures that say the model is not serving (they count towards opening the circuit breaker):
 * timeouts, 429 and 5xx after the retries, the network. A reply that broke the rules does not:
 * the model is up.
 */
export function isOutage(err: unknown): boolean {
  if (err instanceof LlmTimeoutError || err instanceof APIConnectionError) return true;
  return err instanceof APIError && (err.status === 408 || err.status === 429 || (err.status ?? 0) >= 500);
}

/** The `fallback_reason` of a failed draft. The message names no secret and no URL of the model's server. */
export function fallbackReasonOf(err: unknown): FallbackReason {
  const reason = (code: FallbackCode, message: string): FallbackReason => ({ code, message });
  if (err instanceof InvalidOutputError) return reason('llm_invalid_output', err.message);
  if (err instanceof LlmTimeoutError) return reason('llm_timeout', err.message);
  if (err instanceof APIConnectionTimeoutError) return reason('llm_timeout', 'the model did not answer within LLM_TIMEOUT_MS');
  if (err instanceof APIConnectionError) return reason('llm_unavailable', 'the model server could not be reached');
  if (err instanceof APIError && err.status === 429) return reason('llm_rate_limited', 'the model server kept answering 429 (rate limited)');
  if (err instanceof APIError && (err.status ?? 0) >= 500) return reason('llm_unavailable', `the model server kept answering ${err.status}`);
  if (err instanceof APIError && err.status !== undefined) return reason('llm_rejected', `the model server refused the request (${err.status})`);
  return reason('llm_unavailable', 'the model could not be asked');
}
