import type { RedisConnection } from '../redis/redis-connection.js';
import { redisFailures } from '../redis/redis.metrics.js';

/**
 * The Map-like store Keyv asks for, on the shared Redis connection. A Redis that is down or slow
 * is a miss (get) or a write skipped (set), counted in `redis_failures_total{feature="cache"}`,
 * never an error and never a wait past the connection's command timeout. Keyv keeps the expiry
 * inside the value; the TTL Keyv passes also becomes Redis' own, so Redis drops stale keys.
 */
export class RedisMapStore {
  constructor(
    private readonly redis: RedisConnection,
    /** Put after `REDIS_KEY_PREFIX`, before Keyv's own keys. */
    private readonly scope: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.attempt((c) => c.get(this.redis.key(this.scope, key)))) ?? undefined;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const k = this.redis.key(this.scope, key);
    const done = await this.attempt((c) => (ttlMs && ttlMs > 0 ? c.set(k, value, 'PX', Math.ceil(ttlMs)) : c.set(k, value)));
    return done === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    return ((await this.attempt((c) => c.del(this.redis.key(this.scope, key)))) ?? 0) > 0;
  }

  async has(key: string): Promise<boolean> {
    return ((await this.attempt((c) => c.exists(this.redis.key(this.scope, key)))) ?? 0) > 0;
  }

  /** Nothing: clearing would mean scanning the keys of every replica; entries expire on their own. */
  async clear(): Promise<void> {}

  private async attempt<T>(command: (client: NonNullable<RedisConnection['client']>) => Promise<T>): Promise<T | undefined> {
    const client = this.redis.client;
    if (!client) return undefined;
    try {
      return await command(client);
    } catch {
      redisFailures.inc({ feature: 'cache' });
      return undefined;
    }
  }
}
