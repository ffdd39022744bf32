import { Counter, Gauge } from 'prom-client';
import { metricsRegistry } from '../metrics/metrics.js';

/** 1 while the shared Redis connection is ready, 0 while it is down (absent without `REDIS_URL`). */
export const redisConnected = new Gauge({
  name: 'redis_connected',
  help: 'Whether the shared Redis connection is ready (1) or down (0)',
  registers: [metricsRegistry],
});

/**
 * Redis commands that failed (down, timed out, refused) and what the feature did instead:
 * `cache` → a miss, `rate_limit` → the per-process limit, `idempotency` → 503.
 */
export const redisFailures = new Counter({
  name: 'redis_failures_total',
  help: 'Redis commands that failed, by the feature that sent them',
  labelNames: ['feature'] as const,
  registers: [metricsRegistry],
});
