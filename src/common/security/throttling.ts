import type { ThrottlerModuleOptions } from '@nestjs/throttler';
import type { Request } from 'express';
import type { AppConfig } from '../../config/app-config.js';

/**
 * Rate limiting through @nestjs/throttler: `RATE_LIMIT_MAX` requests per client (by IP) per
 * `RATE_LIMIT_WINDOW_MS`, across all routes (the library's default key is per route, which would
 * multiply the budget by the number of routes). Over the limit: 429 `rate_limited` with
 * `Retry-After` in seconds. `RATE_LIMIT_MAX=0` turns it off. Probes and `/metrics` are exempt
 * (`@SkipThrottle()`), so a busy client never makes a pod look unhealthy.
 */
export function throttlerOptions(config: AppConfig): ThrottlerModuleOptions {
  const { rateLimitMax, rateLimitWindowMs } = config.security;
  return {
    throttlers: [{ name: 'default', limit: Math.max(1, rateLimitMax), ttl: rateLimitWindowMs }],
    skipIf: () => rateLimitMax === 0,
    getTracker: (req: Record<string, unknown>) => (req as unknown as Request).ip ?? 'unknown',
    generateKey: (_context, tracker, name) => `${name}:${tracker}`,
    errorMessage: 'Too many requests: retry after the number of seconds in Retry-After',
  };
}
