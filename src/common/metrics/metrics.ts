import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The service's one Prometheus registry, and the HTTP and streaming metrics that every route
 * shares. A feature's own metrics live in that feature (`captions.metrics.ts`, `batch.metrics.ts`)
 * and register here. Names follow Prometheus conventions (`_seconds`, `_bytes`, `_total`). The
 * monitoring module serves the registry at `GET /metrics` and adds process metrics and the lazy
 * loader's figures to it.
 */
export const metricsRegistry = new Registry();

/** HTTP request duration, labelled by route template (never the raw URL) and status class. */
export const httpRequestDuration = new Histogram({
  name: 'http_server_request_duration_seconds',
  help: 'Duration of HTTP requests in seconds, by method, route template and status class',
  labelNames: ['method', 'route', 'status_class'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

/** Streamed responses currently open, by route template. */
export const activeStreams = new Gauge({
  name: 'http_active_streams',
  help: 'Streamed responses currently open',
  labelNames: ['route'] as const,
  registers: [metricsRegistry],
});

/** Streamed responses by how they ended (completed, client_closed, failed, shutdown, idle_timeout, too_slow). */
export const streamEndings = new Counter({
  name: 'http_streams_ended_total',
  help: 'Streamed responses by how they ended',
  labelNames: ['route', 'outcome'] as const,
  registers: [metricsRegistry],
});

/**
 * Requests whose client closed the connection before the response started (an upload aborted
 * midway), by method and route template. A stream the client leaves is counted by
 * `http_streams_ended_total` with outcome `client_closed` instead.
 */
export const clientClosedRequests = new Counter({
  name: 'http_requests_client_closed_total',
  help: 'Requests whose client closed the connection before the response started',
  labelNames: ['method', 'route'] as const,
  registers: [metricsRegistry],
});
