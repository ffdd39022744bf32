import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { ApiError } from '../common/errors/api-error.js';

/** What a client refused for an unreachable database is told to wait before trying again. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** Node's codes for a connection that could not be made or was cut. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);
/**
 * SQLSTATEs of a server that is going away or not taking work: admin shutdown (`pg_ctl stop -m
 * fast`, a failover), crash shutdown, cannot connect now (starting or stopping), too many
 * connections. Class 08 (connection exception) is matched as a whole.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** node-postgres' own errors for a lost connection carry no code, only these messages. */
const LOST_CONNECTION = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed)/;

/** True when `err` says the database cannot be reached now, as opposed to a query that is wrong. */
export function isDatabaseUnreachable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  return typeof message === 'string' && LOST_CONNECTION.test(message);
}

/**
 * `err` as the contract's 503 `unhealthy` (naming the database, with `Retry-After`) when it says the
 * database is unreachable; any other error unchanged. The driver's error stays as `cause` for the log.
 */
export function asDatabaseUnavailable(err: unknown): unknown {
  if (!isDatabaseUnreachable(err)) return err;
  const error = new ApiError(503, 'unhealthy', 'The database is unreachable: retry later', [{ field: 'database', message: 'database unreachable' }], {
    'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS),
  });
  (error as { cause?: unknown }).cause = err;
  return error;
}

/**
 * `pool.connect()`, failing after `timeoutMs` whatever the driver does. node-postgres has its own
 * `connectionTimeoutMillis`, yet a connection attempt made just as the server stops
 * (`pg_ctl stop -m fast`) was seen to stay pending past it, and a write waiting on it holds every
 * write queued behind it (group commit). A client that arrives after the deadline is destroyed.
 */
function connectWithin(pool: pg.Pool, timeoutMs: number): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(Object.assign(new Error('timeout exceeded when trying to connect'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    pool.connect().then(
      (client) => {
        clearTimeout(timer);
        if (late) client.release(true);
        else resolve(client);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!late) reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * `pool` as Kysely sees it, with every connection failure and every query failing for a lost
 * connection turned into {@link asDatabaseUnavailable}'s 503: a request that needs the database
 * while it is down is answered 503 at once, never 500. Cursors (exports) pass through unchanged:
 * a stream that fails after its first byte ends with its own error item.
 */
export function guardedPool(pool: pg.Pool, connectTimeoutMs: number): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: pg.PoolClient;
      try {
        client = await connectWithin(pool, connectTimeoutMs);
      } catch (err) {
        throw asDatabaseUnavailable(err);
      }
      const query = (...args: unknown[]): unknown => {
        const result = (client.query as (...a: unknown[]) => unknown)(...args);
        return result instanceof Promise
          ? result.catch((err: unknown) => {
              throw asDatabaseUnavailable(err) as Error;
            })
          : result;
      };
      return { query: query as PostgresPoolClient['query'], release: () => client.release() };
    },
    end: () => pool.end(),
  };
}
