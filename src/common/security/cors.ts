import type { NestExpressApplication } from '@nestjs/platform-express';

type CorsOptions = Exclude<Parameters<NestExpressApplication['enableCors']>[0], undefined | ((...args: never[]) => unknown)>;

/** Headers a browser script may read from our responses. */
const EXPOSED = ['X-Request-Id', 'Retry-After', 'Link', 'X-Streaming', 'X-Chunk-Size', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

/**
 * CORS is off unless `CORS_ORIGINS` lists origins (`*` allows any origin, without credentials).
 * Returns undefined when off, so no CORS header is ever sent.
 */
export function corsOptions(origins: readonly string[]): CorsOptions | undefined {
  if (origins.length === 0) return undefined;
  return {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['Content-Type', 'Content-Encoding', 'Accept', 'Authorization', 'X-API-Key', 'X-Request-Id', 'Idempotency-Key'],
    exposedHeaders: EXPOSED,
    maxAge: 600,
  };
}
