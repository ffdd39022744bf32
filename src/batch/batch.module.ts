import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { CaptionsModule } from '../captions/captions.module.js';
import { RedisConnection } from '../common/redis/redis-connection.js';
import { RedisModule } from '../common/redis/redis.module.js';
import { AppConfig } from '../config/app-config.js';
import { BatchController } from './batch.controller.js';
import { BatchDrafter } from './batch.drafter.js';
import { BatchService } from './batch.service.js';
import { HISTORY_DATABASE, type HistoryDatabaseHandle } from '../history/history-database.js';
import { HistoryModule } from '../history/history.module.js';
import { IdempotencyRecords } from './idempotency-records.js';
import { DatabaseIdempotencyRecords } from './idempotency-records.database.js';
import { RedisIdempotencyRecords } from './idempotency-records.redis.js';
import { IdempotencyStore } from './idempotency.store.js';

/**
 * Idempotency records in the shared Redis when `REDIS_URL` is set, else in the service's database
 * (SQLite, or PostgreSQL shared by every instance): either way a claim holds across instances.
 */
const idempotencyRecords = {
  provide: IdempotencyRecords,
  inject: [AppConfig, RedisConnection, HISTORY_DATABASE],
  useFactory: (config: AppConfig, redis: RedisConnection, database: HistoryDatabaseHandle): IdempotencyRecords => {
    const options = {
      maxBytes: config.batch.idempotencyMaxBytes,
      ttlMs: config.batch.idempotencyTtlSeconds * 1000,
      leaseMs: config.batch.idempotencyLeaseMs,
    };
    if (!redis.client) return new DatabaseIdempotencyRecords(database, options);
    return new RedisIdempotencyRecords(redis.client, { ...options, prefix: redis.key('{idempotency}') }).start();
  },
};

/**
 * Batch processing (`POST /batch-process`): drafts every item through the captions module's
 * service (which records each variation in the history). Exports nothing.
 */
@Module({
  imports: [RedisModule, CaptionsModule, HistoryModule],
  controllers: [BatchController],
  providers: [BatchService, BatchDrafter, IdempotencyStore, idempotencyRecords],
})
export class BatchModule implements OnApplicationShutdown {
  constructor(private readonly records: IdempotencyRecords) {}

  async onApplicationShutdown(): Promise<void> {
    await this.records.close();
  }
}
