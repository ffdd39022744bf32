import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from '../../../common/metrics/metrics.js';

/** Calls to the model, by model and outcome (ok, invalid_output, timeout, rate_limited, unavailable, rejected, aborted). */
export const llmRequests = new Counter({
  name: 'llm_requests_total',
  help: 'Chat-completion calls of the LLM caption engine, by model and outcome',
  labelNames: ['model', 'outcome'] as const,
  registers: [metricsRegistry],
});

/** Wall time of one call (the SDK's retries and backoff included), by model and outcome. */
export const llmRequestDuration = new Histogram({
  name: 'llm_request_duration_seconds',
  help: 'Duration of chat-completion calls of the LLM caption engine, retries included',
  labelNames: ['model', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
  registers: [metricsRegistry],
});

/** Tokens the model server reported, by model and kind (prompt, completion). */
export const llmTokens = new Counter({
  name: 'llm_tokens_total',
  help: 'Tokens used by the LLM caption engine, by model and kind (prompt, completion)',
  labelNames: ['model', 'kind'] as const,
  registers: [metricsRegistry],
});

/** Drafts the offline engine wrote because the LLM could not, by `fallback_reason.code`. */
export const captionFallbacks = new Counter({
  name: 'caption_fallbacks_total',
  help: 'Caption drafts served by the offline engine because the LLM engine could not, by reason code',
  labelNames: ['code'] as const,
  registers: [metricsRegistry],
});

/** 1 while the circuit breaker is open (requests go straight to the offline engine), else 0. */
export const llmCircuitOpen = new Gauge({
  name: 'llm_circuit_open',
  help: 'Whether the LLM caption engine circuit breaker is open (1) or not (0)',
  labelNames: ['model'] as const,
  registers: [metricsRegistry],
});
