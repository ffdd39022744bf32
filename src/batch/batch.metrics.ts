import { Counter } from 'prom-client';
import { metricsRegistry } from '../common/metrics/metrics.js';

/** Batch items by outcome: succeeded, failed, below_threshold. */
export const batchItems = new Counter({
  name: 'batch_items_total',
  help: 'Batch items processed, by outcome',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});
