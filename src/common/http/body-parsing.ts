import type { ErrorRequestHandler, RequestHandler } from 'express';
import express from 'express';
import { errorBody, mapError } from '../errors/error-body.js';
import { requestIdOf } from './request-id.js';

/**
 * The JSON body parser. Its limit is counted after gzip/deflate/br decoding (body-parser inflates
 * before counting), so a small compressed bomb is still a 413.
 */
export function jsonBodyParser(limitBytes: number): RequestHandler {
  return express.json({ limit: limitBytes, strict: true, type: ['application/json', 'application/*+json'] });
}

/**
 * Body-parser errors happen before Nest routes the request, so Nest's filter never sees them;
 * this middleware gives them the same contract body through the same mapping.
 */
export const bodyErrorHandler: ErrorRequestHandler = (err, req, res, next) => {
  if (res.headersSent) return next(err);
  const mapped = mapError(err);
  if (mapped.unexpected) return next(err);
  res.status(mapped.status).json(errorBody(mapped, requestIdOf(req)));
};
