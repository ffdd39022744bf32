import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** An incoming id is reused only when it is short and plain, so it is safe in logs and headers. */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const REQUEST_ID = Symbol('requestId');
type WithId = Request & { [REQUEST_ID]?: string; id?: unknown };

/** Express middleware: reuse a valid `X-Request-Id`, else make a UUID; echo it on the response. */
export function requestIdMiddleware(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  (req as WithId)[REQUEST_ID] = id;
  // pino-http reads `req.id`, so every log line of this request carries it.
  (req as WithId).id = id;
  res.setHeader('X-Request-Id', id);
  next();
}

/** The request's id, as set by {@link requestIdMiddleware}. */
export function requestIdOf(req: Request): string {
  return (req as WithId)[REQUEST_ID] ?? randomUUID();
}
