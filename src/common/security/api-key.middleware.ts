import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { errorBody } from '../errors/error-body.js';
import { requestIdOf } from '../http/request-id.js';

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();
const SLASH = 0x2f;

/**
 * `path` without its trailing slashes, found by a walk back from the end: linear in the path's
 * length, where a `/\/+$/` search is quadratic on a path of many slashes followed by another
 * character (it retries from every slash), and this runs before the key is checked.
 */
export function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === SLASH) end -= 1;
  return end === path.length ? path : path.slice(0, end);
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(req: Request): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header.trim() : undefined;
}

/**
 * Who a request is, for per-client limits: its API key (as a digest prefix, never the key itself)
 * when keys are on, else its IP address as Express reports it.
 */
export function clientIdentity(req: Request, keysEnabled: boolean): string {
  const key = keysEnabled ? presentedKey(req) : undefined;
  return key !== undefined ? `key:${digest(key).toString('hex').slice(0, 32)}` : `ip:${req.ip ?? 'unknown'}`;
}

/**
 * Checks a presented key against every configured key in constant time: both sides are hashed
 * to equal-length SHA-256 digests (so neither the length nor the content of a key leaks through
 * timing), and every configured key is compared, with no early exit.
 */
export class ApiKeyVerifier {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  verify(candidate: string | undefined): boolean {
    const presented = digest(candidate ?? '');
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, presented) || ok;
    return ok && candidate !== undefined;
  }
}

/**
 * Express middleware: with API keys configured, every request but those to `publicPaths` needs a
 * valid key, else 401 `unauthorized`. It runs before routing and body parsing, so it also covers
 * unknown routes, Swagger UI and the OpenAPI document, and an unauthenticated body is never read.
 * CORS preflights are answered before it (they carry no credentials by design).
 * Paths are compared lower-cased without a trailing slash (Express routes them that way); any
 * other spelling of a public path is simply not public.
 */
export function apiKeyMiddleware(keys: readonly string[], publicPaths: readonly string[]): RequestHandler | undefined {
  const verifier = new ApiKeyVerifier(keys);
  if (!verifier.enabled) return undefined;
  const open = new Set(publicPaths.map((p) => p.toLowerCase()));
  return (req: Request, res: Response, next: NextFunction) => {
    const path = req.path.length > 1 ? withoutTrailingSlashes(req.path).toLowerCase() : req.path;
    const key = presentedKey(req);
    if (open.has(path) || verifier.verify(key)) return next();
    const hadKey = key !== undefined;
    res.setHeader('WWW-Authenticate', 'Bearer realm="captions-api"');
    res.status(401).json(
      errorBody(
        {
          status: 401,
          code: 'unauthorized',
          message: hadKey ? 'The API key is not valid' : 'An API key is required (Authorization: Bearer <key> or X-API-Key)',
          unexpected: false,
        },
        requestIdOf(req),
      ),
    );
  };
}
