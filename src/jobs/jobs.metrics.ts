import { Counter, Gauge } from 'prom-client';
import { metricsRegistry } from '../common/metrics/metrics.js';

/** Batch job items that ended, by final state (succeeded, errored, canceled, expired). */
export const jobItemsEnded = new Counter({
  name: 'batch_job_items_total',
  help: 'Batch job items this process ended, by final state',
  labelNames: ['state'] as const,
  registers: [metricsRegistry],
});

/** Chunks of batch job work waiting in this process's runner (the in-process queue's depth). */
export const jobQueueDepth = new Gauge({
  name: 'batch_job_queue_depth',
  help: 'Chunks of batch job work waiting to run in this process',
  registers: [metricsRegistry],
});

/** Batches by how they ended on this process (ended, expired), and created. */
export const jobBatches = new Counter({
  name: 'batch_jobs_total',
  help: 'Batch jobs created, ended and expired by this process',
  labelNames: ['event'] as const,
  registers: [metricsRegistry],
});
