import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isIPv6 } from 'node:net';
import { AppConfig } from '../../../config/app-config.js';
import { ApiError } from '../../errors/api-error.js';
import { errorBody } from '../../errors/error-body.js';
import { requestIdOf } from '../../http/request-id.js';
import { RedisConnection } from '../../redis/redis-connection.js';
import { LocalTokenBuckets, SharedTokenBuckets } from './bucket-stores.js';
import { ConcurrencyLimit, type BucketStore, type Charge } from './token-buckets.js';

/**
 * The client a request is counted against: its address (`req.ip`, which honours `TRUST_PROXY`),
 * with an IPv6 address reduced to its /64 (one host usually holds a whole /64, so per-address
 * buckets would be free to multiply) and an IPv4-mapped IPv6 address to the IPv4 one.
 */
export function clientOf(req: Request): string {
  const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  if (ip.startsWith('::ffff:') && ip.includes('.')) return ip.slice(7);
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const groups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const full = ip.includes('::') ? [...groups, ...Array<string>(8 - groups.length - tailGroups.length).fill('0'), ...tailGroups] : groups;
  return `${full.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** The work budget of one request: what the guard and the batch charge on top of its first unit. */
export interface RequestBudget {
  /**
   * Charges `units` more. `total` is the whole request's cost when the charge completes it (the
   * first unit was taken at the door): a request larger than the whole bucket then needs a full one.
   * @throws ApiError 429 `rate_limited` with `Retry-After` when the client's budget cannot cover it.
   */
  charge(units: number, total?: number): Promise<void>;
}

const budgets = new WeakMap<Request, RequestBudget>();

/** The budget of `req`, or undefined when it is not rate limited (limit off, or a probe). */
export function budgetOf(req: Request): RequestBudget | undefined {
  return budgets.get(req);
}

/**
 * Rate limiting, per client address:
 * - a work budget: every request costs 1 unit at the door, whatever its answer (401, 404, 400 and
 *   413 included); routes that draft captions cost one unit per caption variation (the guard
 *   charges the rest from the route's `@RateCost`); `RATE_LIMIT_MAX` units per
 *   `RATE_LIMIT_WINDOW_MS`, refilled continuously (`0` turns it off);
 * - `RATE_LIMIT_MAX_CONCURRENT` requests in flight (streams until they end; `0`: no cap);
 * - `RATE_LIMIT_AUTH_FAILURES` failed authentications (401) per window: past them every request
 *   from that address is refused until the bucket refills (`0`: no such bucket).
 * Over any of them: 429 `rate_limited` with `Retry-After` in seconds.
 * With `REDIS_URL` the work and authentication buckets are shared by every replica
 * ({@link SharedTokenBuckets}: each replica's own while Redis is out); requests in flight are
 * counted per replica.
 */
@Injectable()
export class RateLimiter {
  readonly work?: BucketStore;
  readonly authFailures?: BucketStore;
  readonly concurrency?: ConcurrencyLimit;

  constructor(config: AppConfig, redis: RedisConnection) {
    const { rateLimitMax, rateLimitWindowMs, rateLimitMaxConcurrent, rateLimitAuthFailures } = config.security;
    const buckets = (scope: string, capacity: number): BucketStore =>
      redis.enabled
        ? new SharedTokenBuckets(redis, scope, { capacity, windowMs: rateLimitWindowMs })
        : new LocalTokenBuckets({ capacity, windowMs: rateLimitWindowMs });
    if (rateLimitMax > 0) this.work = buckets('work', rateLimitMax);
    if (rateLimitAuthFailures > 0) this.authFailures = buckets('auth', rateLimitAuthFailures);
    if (rateLimitMaxConcurrent > 0) this.concurrency = new ConcurrencyLimit(rateLimitMaxConcurrent);
  }

  get enabled(): boolean {
    return this.work !== undefined || this.authFailures !== undefined || this.concurrency !== undefined;
  }

  /**
   * Express middleware, before the API-key check so that failed authentications are counted.
   * `exempt` paths (the probes) are never limited: a busy client never makes a pod look unhealthy.
   * `unmetered` paths (`/metrics`) cost nothing and hold no slot, but their failed
   * authentications count like any other.
   */
  middleware(paths: { exempt: readonly string[]; unmetered: readonly string[] }): RequestHandler | undefined {
    if (!this.enabled) return undefined;
    const exempt = new Set(paths.exempt);
    const unmetered = new Set(paths.unmetered);
    return (req: Request, res: Response, next: NextFunction) => {
      if (exempt.has(req.path)) return next();
      // In-process buckets answer at once: the request goes on in this tick, with no promise.
      const admitted = this.admit(req, res, unmetered.has(req.path));
      if (admitted === true) return next();
      if (admitted !== false) {
        admitted.then((ok) => {
          if (ok) next();
        }, next);
      }
    };
  }

  /** Charges the door's unit and takes a slot; false when it answered 429 itself. */
  private admit(req: Request, res: Response, unmetered: boolean): boolean | Promise<boolean> {
    const client = clientOf(req);
    const failures = this.authFailures;
    if (!failures) return this.chargeWork(req, res, client, unmetered);
    // Takes nothing: only asks whether the bucket still holds one failure.
    return settle(failures.charge(client, 0, 1), (left) => {
      if (!left.ok) {
        refuse(req, res, left, 'Too many failed authentications from this address: retry after the number of seconds in Retry-After');
        return false;
      }
      res.once('finish', () => {
        // Floating on purpose: the response is gone, and a failed charge has already fallen back or been counted.
        if (res.statusCode === 401) void failures.charge(client, 1, 0);
      });
      return this.chargeWork(req, res, client, unmetered);
    });
  }

  /** The door's unit of work (none for an unmetered path), then a slot. */
  private chargeWork(req: Request, res: Response, client: string, unmetered: boolean): boolean | Promise<boolean> {
    if (unmetered) return true;
    const work = this.work;
    if (!work) return this.takeSlot(req, res, client);
    return settle(work.charge(client, 1), (charged) => {
      if (!charged.ok) {
        refuse(req, res, charged, 'Too many requests: retry after the number of seconds in Retry-After');
        return false;
      }
      setLimitHeaders(res, work.capacity, charged);
      return this.takeSlot(req, res, client);
    });
  }

  /** A slot among the client's requests in flight, held until the response closes. */
  private takeSlot(req: Request, res: Response, client: string): boolean {
    const release = this.concurrency?.acquire(client);
    if (this.concurrency && !release) {
      refuse(req, res, { ok: false, remaining: 0, retryAfterMs: 1000, resetMs: 0 }, 'Too many requests in progress from this address: retry when one has finished');
      return false;
    }
    if (release) res.once('close', release);
    if (this.work) budgets.set(req, this.budget(client, res));
    return true;
  }

  private budget(client: string, res: Response): RequestBudget {
    const work = this.work!;
    return {
      charge: async (units, total) => {
        if (units <= 0) return;
        const need = total === undefined ? Math.min(units, work.capacity) : Math.max(0, Math.min(total, work.capacity) - 1);
        const charged = await work.charge(client, units, need);
        if (!res.headersSent) setLimitHeaders(res, work.capacity, charged);
        if (!charged.ok) {
          throw new ApiError(
            429,
            'rate_limited',
            `This needs ${total ?? units} units of the rate limit (one per caption variation), more than this client has left: retry after the number of seconds in Retry-After`,
            undefined,
            { 'Retry-After': String(Math.max(1, Math.ceil(charged.retryAfterMs / 1000))) },
          );
        }
      },
    };
  }
}

/** `then` applied to `value` now, or once it settles when it is a promise. */
function settle<T, R>(value: T | Promise<T>, then: (v: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(then) : then(value);
}

function setLimitHeaders(res: Response, limit: number, c: Charge): void {
  res.setHeader('X-RateLimit-Limit', String(limit));
  res.setHeader('X-RateLimit-Remaining', String(c.remaining));
  res.setHeader('X-RateLimit-Reset', String(Math.ceil(c.resetMs / 1000)));
}

function refuse(req: Request, res: Response, c: Charge, message: string): void {
  res.setHeader('Retry-After', String(Math.max(1, Math.ceil(c.retryAfterMs / 1000))));
  res.status(429).json(errorBody({ status: 429, code: 'rate_limited', message, unexpected: false }, requestIdOf(req)));
}
