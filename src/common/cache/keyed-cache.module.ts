import KeyvRedis from '@keyv/redis';
import { CacheModule } from '@nestjs/cache-manager';
import { Module } from '@nestjs/common';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import { AppConfig } from '../../config/app-config.js';

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
 * Tier 1 is an in-process LRU bounded to `LAZY_CACHE_SIZE` entries; with `CACHE_REDIS_URL` a
 * shared Redis tier is added behind it (cache-manager reads tiers in order and fills the nearer
 * one on the way back). Inject `CACHE_MANAGER` (type `Cache`); TTLs are in milliseconds.
 * Chunks of data do not go here: they live in the lazy loader's byte-bounded tiers.
 */
@Module({
  imports: [
    CacheModule.registerAsync({
      isGlobal: true,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        // `captions` names the service, not what is stored: it keeps this service's keys apart from
        // others' in a shared Redis (and renaming it would orphan the keys already there).
        const memory = new Keyv({ store: new BoundedMapStore(config.lazyLoader.cacheSize), namespace: 'captions' });
        const stores: Keyv[] = [memory];
        if (config.cacheRedisUrl) {
          stores.push(new Keyv({ store: new KeyvRedis(config.cacheRedisUrl), namespace: 'captions' }));
        }
        return { stores, ttl: config.lazyLoader.cacheTtlSeconds * 1000 };
      },
    }),
  ],
})
export class KeyedCacheModule {}
