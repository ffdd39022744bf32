import { CacheModule } from '@nestjs/cache-manager';
import { Module } from '@nestjs/common';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import { AppConfig } from '../../config/app-config.js';
import { RedisConnection } from '../redis/redis-connection.js';
import { RedisModule } from '../redis/redis.module.js';
import { RedisMapStore } from './redis-map-store.js';

/**
 * The Map-like store Keyv asks for, bounded by lru-cache. Keyv passes a TTL as a third argument to
 * `set`, which lru-cache would read as an options object; Keyv keeps the expiry inside the value
 * itself, so the TTL is not needed here.
 */
class BoundedMapStore {
  private readonly lru: LRUCache<string, NonNullable<unknown>>;
  constructor(max: number) {
    this.lru = new LRUCache({ max });
  }
  get(key: string): unknown {
    return this.lru.get(key);
  }
  set(key: string, value: NonNullable<unknown>): this {
    this.lru.set(key, value);
    return this;
  }
  delete(key: string): boolean {
    return this.lru.delete(key);
  }
  has(key: string): boolean {
    return this.lru.has(key);
  }
  clear(): void {
    this.lru.clear();
  }
}

/**
 * The small keyed cache behind cache-manager 7: today it holds history per-day counts only. Caption
 * responses are not here (the lazy loader caches their variations), nor are idempotency records: a
 * cache may evict, and they must not be (they have a store of their own).
 * Tier 1 is an in-process LRU bounded to `LAZY_CACHE_SIZE` entries; with `REDIS_URL` a shared
 * Redis tier (keys under `REDIS_KEY_PREFIX` + `cache:`) is added behind it (cache-manager reads
 * tiers in order and fills the nearer one on the way back). A Redis that is down is a counted miss
 * of that tier, never a wait. Inject `CACHE_MANAGER` (type `Cache`); TTLs are in milliseconds.
 * Chunks of data do not go here: they live in the lazy loader's byte-bounded tiers.
 */
@Module({
  imports: [
    CacheModule.registerAsync({
      isGlobal: true,
      imports: [RedisModule],
      inject: [AppConfig, RedisConnection],
      useFactory: (config: AppConfig, redis: RedisConnection) => {
        const memory = new Keyv({ store: new BoundedMapStore(config.lazyLoader.cacheSize), namespace: 'captions' });
        const stores: Keyv[] = [memory];
        if (redis.enabled) stores.push(new Keyv({ store: new RedisMapStore(redis, 'cache'), useKeyPrefix: false }));
        return { stores, ttl: config.lazyLoader.cacheTtlSeconds * 1000 };
      },
    }),
  ],
})
export class KeyedCacheModule {}
