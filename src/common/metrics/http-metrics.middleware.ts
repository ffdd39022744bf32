import type { NextFunction, Request, Response } from 'express';
import { httpRequestDuration } from './metrics.js';

/** Requests that matched no route share one label, so scanners cannot explode the label set. */
const UNMATCHED = 'unmatched';
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Express middleware: observes every request's duration (until the response is finished or the
 * client left) in `http_server_request_duration_seconds`, labelled by method, the matched route
 * template (`req.route.path`, never the raw URL) and status class (`2xx`…`5xx`).
 * Installed first, so requests refused by later middleware (401, 413) are timed too.
 */
export function httpMetricsMiddleware(req: Request, res: Response, next: NextFunction): void {
  const start = process.hrtime.bigint();
  res.once('close', () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const route = (req.route as { path?: unknown } | undefined)?.path;
    httpRequestDuration.observe(
      {
        method: KNOWN_METHODS.has(req.method) ? req.method : 'OTHER',
        route: typeof route === 'string' ? route : UNMATCHED,
        status_class: `${Math.floor(res.statusCode / 100)}xx`,
      },
      seconds,
    );
  });
  next();
}
