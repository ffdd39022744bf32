import { HttpException } from '@nestjs/common';
import { ClientClosedError } from '../security/client-errors.js';
import { ApiError, type ErrorBody, type ErrorCode, type ErrorDetail } from './api-error.js';

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'malformed_json',
  401: 'unauthorized',
  404: 'not_found',
  405: 'not_found',
  406: 'not_acceptable',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  429: 'rate_limited',
  503: 'not_ready',
  504: 'load_timeout',
};

/** The outcome of mapping any thrown value onto the contract. */
export interface MappedError {
  status: number;
  code: string;
  message: string;
  details?: ErrorDetail[];
  /** True when the error is a bug: log it with its stack. */
  unexpected: boolean;
  /** True when the client left before the answer: there is no one to answer, and nothing to log as an error. */
  clientClosed?: boolean;
  /** Response headers the error asks for (`Retry-After`). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * Errors from libraries and from the lazy loader follow the http-errors convention: a numeric
 * `status` and `expose: true` mean the message is safe to show. Anything else is a bug.
 */
interface ExposableError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  code?: unknown;
  type?: unknown;
  message?: unknown;
}

function fromBodyParser(err: ExposableError, status: number): MappedError | undefined {
  if (err.type === 'entity.parse.failed') {
    return { status: 400, code: 'malformed_json', message: 'Request body is not valid JSON', unexpected: false };
  }
  if (err.type === 'entity.too.large') {
    return { status: 413, code: 'payload_too_large', message: 'Request body exceeds the size limit', unexpected: false };
  }
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
    return { status: 415, code: 'unsupported_media_type', message: String(err.message), unexpected: false };
  }
  if (status === 400 && typeof err.code === 'string' && err.code.startsWith('Z_')) {
    // zlib's own code (Z_DATA_ERROR…) from inflating a corrupt gzip/deflate/br body.
    return { status: 400, code: 'malformed_json', message: 'Request body could not be decompressed', unexpected: false };
  }
  if (status === 400 && typeof err.type === 'string') {
    return { status: 400, code: 'malformed_json', message: 'Request body could not be read', unexpected: false };
  }
  return undefined;
}

/** Maps anything thrown onto a status, a contract code and a message that leaks nothing. */
export function mapError(exception: unknown): MappedError {
  if (exception instanceof ClientClosedError) {
    // 499, as proxies log a request their client closed; never sent, since no one is listening.
    return { status: 499, code: 'client_closed', message: exception.message, unexpected: false, clientClosed: true };
  }
  if (exception instanceof ApiError) {
    return {
      status: exception.getStatus(),
      code: exception.code,
      message: exception.message,
      details: exception.details,
      unexpected: false,
      ...(exception.headers ? { headers: exception.headers } : {}),
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    const response = exception.getResponse();
    const raw = typeof response === 'object' && response !== null ? (response as { message?: unknown }).message : response;
    const message = Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : exception.message;
    return { status, code, message: status >= 500 ? 'Internal server error' : message, unexpected: status >= 500 };
  }
  if (typeof exception === 'object' && exception !== null) {
    const err = exception as ExposableError;
    const status = Number(err.status ?? err.statusCode);
    if (Number.isInteger(status) && status >= 400 && status < 600) {
      const parsed = fromBodyParser(err, status);
      if (parsed) return parsed;
      // A load that failed because a dependency is down (the database refusing the write of a
      // drafted caption) answers as that dependency's 503, naming it, rather than as a load failure.
      const cause = (exception as { cause?: unknown }).cause;
      if (err.expose === true && status >= 500 && cause instanceof ApiError && cause.getStatus() === 503) return mapError(cause);
      if (err.expose === true) {
        const code = typeof err.code === 'string' ? err.code : (CODE_BY_STATUS[status] ?? 'internal_error');
        return { status, code, message: String(err.message), unexpected: false };
      }
    }
  }
  return { status: 500, code: 'internal_error', message: 'Internal server error', unexpected: true };
}

/** Builds the contract's error body. */
export function errorBody(mapped: MappedError, requestId: string): ErrorBody {
  return {
    error: mapped.code,
    message: mapped.message,
    ...(mapped.details?.length ? { details: mapped.details } : {}),
    request_id: requestId,
    timestamp: Date.now() / 1000,
  };
}
