import type { RedisConnection } from '../../redis/redis-connection.js';
import { redisFailures } from '../../redis/redis.metrics.js';
import { chargeOutcome, TokenBuckets, type BucketStore, type Charge } from './token-buckets.js';

/**
 * The same token bucket as {@link TokenBuckets}, in one Redis hash per client, read, refilled and
 * charged in one script (atomic across replicas), on Redis' clock (replicas' clocks may differ).
 * KEYS: the bucket. ARGV: capacity, window (ms), cost, need. Returns {1, level before, level after}
 * when the charge passed, {0, level} when refused (levels as strings: Redis would truncate numbers).
 */
const CHARGE_SCRIPT = `
local cap, win, cost, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = cap / win
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = cap
if b[1] then tokens = math.min(cap, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * rate) end
if need > 0 and tokens < need then return {0, tostring(tokens)} end
local left = tokens - cost
local ttl = math.ceil((cap - left) / rate)
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'tokens', tostring(left), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {1, tostring(tokens), tostring(left)}
`;

/**
 * Token buckets every replica shares through Redis, so N replicas together allow the configured
 * rate, not N times it. When Redis fails (down, slow past its command timeout) a charge falls back
 * to this process' own buckets, counted in `redis_failures_total{feature="rate_limit"}`: each
 * replica then still enforces the limit on its own (at most N× in all while Redis is out), and
 * clients are neither refused for an outage nor let through unbounded.
 */
export class SharedTokenBuckets implements BucketStore {
  private readonly local: TokenBuckets;

  constructor(
    private readonly redis: RedisConnection,
    /** Keeps this store's buckets apart from others' (`work`, `auth`). */
    private readonly scope: string,
    private readonly options: { capacity: number; windowMs: number },
  ) {
    this.local = new TokenBuckets(options);
  }

  get capacity(): number {
    return this.options.capacity;
  }

  async charge(client: string, cost: number, need = Math.min(cost, this.options.capacity)): Promise<Charge> {
    const { capacity, windowMs } = this.options;
    const redis = this.redis.client;
    if (redis?.status === 'ready') {
      try {
        const key = this.redis.key('ratelimit', this.scope, client);
        const reply = (await redis.eval(CHARGE_SCRIPT, 1, key, capacity, windowMs, cost, need)) as [number, string, string?];
        return chargeOutcome(capacity, windowMs, Number(reply[1]), need, reply[0] === 1 ? Number(reply[2]) : null);
      } catch {
        // Falls through to the local buckets below.
      }
    }
    redisFailures.inc({ feature: 'rate_limit' });
    return this.local.charge(client, cost, need);
  }
}

/** The in-process buckets behind the {@link BucketStore} interface (no `REDIS_URL`). */
export class LocalTokenBuckets implements BucketStore {
  private readonly buckets: TokenBuckets;

  constructor(options: { capacity: number; windowMs: number }) {
    this.buckets = new TokenBuckets(options);
  }

  get capacity(): number {
    return this.buckets.capacity;
  }

  charge(client: string, cost: number, need?: number): Charge {
    return this.buckets.charge(client, cost, need);
  }
}
