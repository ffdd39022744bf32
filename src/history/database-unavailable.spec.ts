import { describe, expect, it } from 'vitest';
import { ApiError } from '../common/errors/api-error.js';
import { mapError } from '../common/errors/error-body.js';
import { LoadFailedError } from '../lazy-loader/load-errors.js';
import { asDatabaseUnavailable, isDatabaseUnreachable } from './database-unavailable.js';

const withCode = (code: string) => Object.assign(new Error('driver text'), { code });

describe(isDatabaseUnreachable.name, () => {
  it('knows a refused or cut connection, a server shutting down, and node-postgres\' lost-connection errors', () => {
    for (const err of [withCode('ECONNREFUSED'), withCode('ECONNRESET'), withCode('57P01'), withCode('57P03'), withCode('08006'), new Error('Connection terminated unexpectedly'), new Error('timeout exceeded when trying to connect')]) {
      expect(isDatabaseUnreachable(err), String((err as { code?: string }).code ?? err.message)).toBe(true);
    }
  });

  it('leaves a wrong query alone: a constraint, a syntax error, a plain bug', () => {
    for (const err of [withCode('23505'), withCode('42601'), new TypeError('x is undefined'), 'text', null]) expect(isDatabaseUnreachable(err)).toBe(false);
  });
});

describe(asDatabaseUnavailable.name, () => {
  it('answers an unreachable database 503 `unhealthy` naming it, with Retry-After, and keeps the driver error as cause only', () => {
    const driver = withCode('ECONNREFUSED');
    const err = asDatabaseUnavailable(driver) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.cause).toBe(driver);
    expect(mapError(err)).toMatchObject({ status: 503, code: 'unhealthy', details: [{ field: 'database', message: 'database unreachable' }], headers: { 'Retry-After': '2' }, unexpected: false });
    expect(mapError(err).message).not.toContain('driver text');
  });

  it('returns any other error unchanged', () => {
    const constraint = withCode('23505');
    expect(asDatabaseUnavailable(constraint)).toBe(constraint);
  });

  it('makes a load that failed for it answer as the database 503, not as a load failure', () => {
    expect(mapError(new LoadFailedError('captions:1', 4, asDatabaseUnavailable(withCode('57P01'))))).toMatchObject({ status: 503, code: 'unhealthy' });
    expect(mapError(new LoadFailedError('captions:1', 4, new Error('boom')))).toMatchObject({ status: 503, code: 'load_failed' });
  });
});
