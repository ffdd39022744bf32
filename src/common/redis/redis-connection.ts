import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { AppConfig } from '../../config/app-config.js';
import { redisConnected } from './redis.metrics.js';

/** Longest pause between reconnection attempts: a Redis that comes back is used again within it. */
const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * The one connection to the shared Redis (`REDIS_URL`), or none. Commands never wait for a Redis
 * that is down: with no offline queue they fail at once while disconnected, and an answer that
 * does not come within `REDIS_COMMAND_TIMEOUT_MS` fails too; each feature decides what a failure
 * means for it. The client reconnects in the background forever. Every key goes through
 * {@link RedisConnection.key}, so `REDIS_KEY_PREFIX` keeps services and test runs apart.
 */
@Injectable()
export class RedisConnection implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  /** Null without `REDIS_URL`. */
  readonly client: Redis | null;
  readonly prefix: string;
  private lastError = '';

  constructor(private readonly config: AppConfig) {
    this.prefix = config.redis.keyPrefix;
    this.client = config.redis.url ? new Redis(config.redis.url, this.options()) : null;
    if (!this.client) return;
    this.client.on('ready', () => {
      redisConnected.set(1);
      this.lastError = '';
      this.logger.log('Redis connection ready');
    });
    this.client.on('close', () => redisConnected.set(0));
    // One line per distinct error: a Redis that stays down does not flood the log at each retry.
    this.client.on('error', (err: Error) => {
      if (err.message === this.lastError) return;
      this.lastError = err.message;
      this.logger.warn({ err }, 'Redis connection error');
    });
  }

  /** True when `REDIS_URL` is set, whether or not Redis answers now. */
  get enabled(): boolean {
    return this.client !== null;
  }

  /** True while the connection is up and ready for commands. */
  get ready(): boolean {
    return this.client?.status === 'ready';
  }

  /** `parts` joined by `:` behind `REDIS_KEY_PREFIX`. */
  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /**
   * The connection settings, for a feature that needs a connection of its own (a blocking
   * consumer such as a BullMQ worker, which also needs `maxRetriesPerRequest: null` and no
   * command timeout): pass those as `overrides`. Keys must still be built with {@link key}
   * (or the library's own `prefix` option set to {@link prefix}).
   */
  options(overrides: RedisOptions = {}): RedisOptions {
    return {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: this.config.redis.commandTimeoutMs,
      connectTimeout: this.config.redis.connectTimeoutMs,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, MAX_RECONNECT_DELAY_MS),
      ...overrides,
    };
  }

  /** A second client on the same URL with {@link options}; the caller closes it. Throws without `REDIS_URL`. */
  duplicate(overrides: RedisOptions = {}): Redis {
    if (!this.config.redis.url) throw new Error('REDIS_URL is not set');
    return new Redis(this.config.redis.url, this.options({ lazyConnect: false, ...overrides }));
  }

  /** Connects, waiting at most the connect timeout: a Redis that is down does not stop the start. */
  async onModuleInit(): Promise<void> {
    if (!this.client) return;
    if (this.config.redis.fromDeprecatedAlias) {
      this.logger.warn('CACHE_REDIS_URL is deprecated: rename it REDIS_URL (it now also holds rate limits and idempotency claims)');
    }
    redisConnected.set(0);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.config.redis.connectTimeoutMs);
    });
    // connect() rejects on the first failure; the retry strategy keeps trying in the background.
    const connected = this.client.connect().catch(() => undefined);
    await Promise.race([connected, deadline]);
    clearTimeout(timer);
    if (!this.ready) this.logger.warn('Redis is not reachable yet: shared state falls back until it is');
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.client) return;
    if (this.ready) await this.client.quit().catch(() => this.client!.disconnect());
    else this.client.disconnect();
    redisConnected.set(0);
  }
}
