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
