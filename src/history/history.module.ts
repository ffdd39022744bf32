import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { HistoryController } from './history.controller.js';
import { HISTORY_DATABASE, openHistoryDatabase } from './history-database.js';
import { HistoryMaintenance } from './history-maintenance.js';
import { HistoryRepository } from './history.repository.js';
import { HistoryService } from './history.service.js';
import { KyselyHistoryRepository } from './kysely-history.repository.js';
import { LazyLoaderModule } from '../lazy-loader/lazy-loader.module.js';

/**
 * Caption history. Exports `HistoryService` (record + read) and the `HistoryRepository` port
 * (readiness probes call `ping()`), and the database handle itself (`HISTORY_DATABASE`, migrated) for
 * features that keep tables of their own in it. The database comes from `AppConfig.databaseUrl`; migrations
 * run before anything can use it, and it is closed when the module is destroyed. Its upkeep
 * (`HistoryMaintenance`) runs on `ScheduleModule.forRoot()`'s registry, which the app provides.
 */
@Module({
  imports: [LazyLoaderModule],
  controllers: [HistoryController],
  providers: [
    {
      provide: HistoryRepository,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        const repo = new KyselyHistoryRepository(
          openHistoryDatabase(config.databaseUrl, {
            connectTimeoutMs: config.history.connectTimeoutMs,
            exports: { connections: config.exports.maxConcurrent, statementTimeoutMs: config.exports.statementTimeoutMs },
            sqliteWalLimitBytes: config.history.sqliteWalLimitBytes,
          }),
        );
        await repo.migrate();
        return repo;
      },
    },
    {
      // The service's one database connection (pool), migrated: features with tables of their own
      // (batch jobs, idempotency records) use it too; it is closed with the repository.
      provide: HISTORY_DATABASE,
      inject: [HistoryRepository],
      useFactory: (repo: KyselyHistoryRepository) => repo.handle,
    },
    HistoryService,
    HistoryMaintenance,
  ],
  exports: [HistoryService, HistoryRepository, HISTORY_DATABASE],
})
export class HistoryModule {}
