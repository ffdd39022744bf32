import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { CaptionsModule } from '../captions/captions.module.js';
import { RedisConnection } from '../common/redis/redis-connection.js';
import { AppConfig } from '../config/app-config.js';
import { BatchController } from './batch.controller.js';
import { BatchDrafter } from './batch.drafter.js';
import { BatchService } from './batch.service.js';
import { IdempotencyRecords, MemoryIdempotencyRecords } from './idempotency-records.js';
import { RedisIdempotencyRecords } from './idempotency-records.redis.js';
import { IdempotencyStore } from './idempotency.store.js';

/** Idempotency records in process, or in the shared Redis when `REDIS_URL` is set. */
const idempotencyRecords = {
  provide: IdempotencyRecords,
  inject: [AppConfig, RedisConnection],
  useFactory: (config: AppConfig, redis: RedisConnection): IdempotencyRecords => {
    const options = { maxBytes: config.batch.idempotencyMaxBytes, ttlMs: config.batch.idempotencyTtlSeconds * 1000 };
    if (!redis.client) return new MemoryIdempotencyRecords(options);
    return new RedisIdempotencyRecords(redis.client, { ...options, prefix: redis.key('{idempotency}') }).start();
  },
};

/**
 * Batch processing (`POST /batch-process`): drafts every item through the captions module's
 * service (which records each variation in the history). Exports nothing.
 */
@Module({
  imports: [CaptionsModule],
  controllers: [BatchController],
  providers: [BatchService, BatchDrafter, IdempotencyStore, idempotencyRecords],
})
export class BatchModule implements OnApplicationShutdown {
  constructor(private readonly records: IdempotencyRecords) {}

  async onApplicationShutdown(): Promise<void> {
    await this.records.close();
  }
}
