import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { CaptionsModule } from '../captions/captions.module.js';
import { HISTORY_DATABASE, type HistoryDatabaseHandle } from '../history/history-database.js';
import { HistoryModule } from '../history/history.module.js';
import { LazyLoaderModule } from '../lazy-loader/lazy-loader.module.js';
import { BatchRunner } from './batch-runner.js';
import { RedisConnection } from '../common/redis/redis-connection.js';
import { ChunkWorker } from './chunk-worker.js';
import { InProcessRunner } from './in-process-runner.js';
import { JobsController } from './jobs.controller.js';
import { JobsReconciler } from './jobs-reconciler.js';
import { JobsRepository } from './jobs.repository.js';
import { JobsService } from './jobs.service.js';

/**
 * Durable batch jobs (`/batches`): tables in the service's one database (the history module's
 * handle), the runner (BullMQ with `REDIS_URL`, in process without), and the reconciler on `ScheduleModule.forRoot()`'s registry.
 * Exports nothing.
 */
@Module({
  imports: [CaptionsModule, HistoryModule, LazyLoaderModule],
  controllers: [JobsController],
  providers: [
    {
      provide: JobsRepository,
      inject: [HISTORY_DATABASE],
      useFactory: async (handle: HistoryDatabaseHandle) => {
        const repo = new JobsRepository(handle);
        await repo.migrate();
        return repo;
      },
    },
    ChunkWorker,
    {
      // BullMQ across every replica when there is a shared Redis; in this process otherwise. BullMQ
      // is imported only then: a process without Redis never holds its code (about 4 MB).
      provide: BatchRunner,
      inject: [ChunkWorker, JobsRepository, RedisConnection, AppConfig],
      useFactory: async (worker: ChunkWorker, repo: JobsRepository, redis: RedisConnection, config: AppConfig): Promise<BatchRunner> => {
        if (!redis.enabled) return new InProcessRunner(worker, repo);
        const { BullmqRunner } = await import('./bullmq-runner.js');
        return new BullmqRunner(worker, repo, redis, config);
      },
    },
    JobsService,
    JobsReconciler,
  ],
})
export class JobsModule {}
