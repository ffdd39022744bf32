import { Counter } from 'prom-client';
import { metricsRegistry } from '../common/metrics/metrics.js';

/**
 * Caption variations drafted by the engine, by engine: one per variation made, whichever route
 * asked (a single request, a stream, a batch item or its regeneration). A variation served from
 * the lazy loader's tiers was not drafted and is not counted.
 */
export const captionGenerations = new Counter({
  name: 'caption_generations_total',
  help: 'Caption variations generated, by engine',
  labelNames: ['engine'] as const,
  registers: [metricsRegistry],
});

/**
 * Ranges of variations the offline engine drafted while drafting threads are on, by where: `thread`,
 * or `event_loop` when the threads had more than `CAPTION_QUEUE_MS` of work waiting.
 */
export const captionDraftRanges = new Counter({
  name: 'caption_draft_ranges_total',
  help: 'Ranges of caption variations drafted with drafting threads on, by where they were drafted',
  labelNames: ['where'] as const,
  registers: [metricsRegistry],
});
