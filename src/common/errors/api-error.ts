import { HttpException } from '@nestjs/common';

/** The `error` codes of the error body, plus the load failures of the lazy loader. */
export type ErrorCode =
  | 'malformed_json'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'not_acceptable'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'validation_failed'
  | 'rate_limited'
  | 'not_ready'
  | 'unhealthy'
  | 'load_timeout'
  | 'load_failed'
  | 'client_closed'
  | 'idempotency_unavailable'
  | 'forbidden'
  | 'internal_error';

export interface ErrorDetail {
  field: string;
  message: string;
}

/** The error body every route answers with. */
export interface ErrorBody {
  /** An {@link ErrorCode}, or a code a feature adds. */
  error: string;
  message: string;
  details?: ErrorDetail[];
  request_id: string;
  timestamp: number;
}

/**
 * An HTTP error that carries its contract code, optional per-field details and optional response
 * headers (`Retry-After`).
 */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message, status);
  }

  /** 429 `rate_limited`, answered with `Retry-After: retryAfterSeconds`. */
  static rateLimited(message: string, retryAfterSeconds: number): ApiError {
    return new ApiError(429, 'rate_limited', message, undefined, { 'Retry-After': String(retryAfterSeconds) });
  }

  /** 422 `validation_failed` for one field; `message` is the rule it broke, without the name. */
  static invalid(field: string, message: string): ApiError {
    return new ApiError(422, 'validation_failed', `${field} ${message}`, [{ field, message }]);
  }
}
