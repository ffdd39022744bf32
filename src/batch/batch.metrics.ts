import { Counter } from 'prom-client';
import { metricsRegistry } from '../common/metrics/metrics.js';

/** Batch items by outcome: succeeded, failed, below_threshold. */
export const batchItems = new Counter({
  name: 'batch_items_total',
  help: 'Batch items processed, by outcome',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});

/** Idempotency-Key leases a running batch lost (its process stalled past the lease): its results were not kept. */
export const idempotencyLeasesLost = new Counter({
  name: 'batch_idempotency_leases_lost_total',
  help: 'Idempotency-Key leases a running batch lost before it finished',
  registers: [metricsRegistry],
});
