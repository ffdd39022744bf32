import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { requestIdOf } from '../http/request-id.js';
import { recordClientClosed } from '../security/client-errors.js';
import { errorBody, mapError } from './error-body.js';

/** The one exception filter: every error, from any route, leaves with the contract's body. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const mapped = mapError(exception);
    if (mapped.clientClosed) {
      // No one is left to answer: count it, and free the socket should it still be open.
      recordClientClosed(req);
      if (!res.writableEnded) res.destroy();
      return;
    }
    if (mapped.unexpected) {
      this.logger.error(
        // The request id is already bound to every log line of this request by nestjs-pino.
        { err: exception },
        `Unhandled error on ${req.method} ${(req.route as { path?: string } | undefined)?.path ?? 'unknown route'}`,
      );
    }
    if (res.headersSent) {
      // A stream already started cannot change its status; its own helper writes the error item.
      if (!res.writableEnded) res.end();
      return;
    }
    if (mapped.headers) res.set(mapped.headers);
    // A route may have declared another type for its success (`@Header('Content-Type', …)`).
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.status(mapped.status).json(errorBody(mapped, requestIdOf(req)));
  }
}
