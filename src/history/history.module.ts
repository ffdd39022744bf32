import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { HistoryController } from './history.controller.js';
import { HISTORY_DATABASE, openHistoryDatabase, type HistoryDatabaseHandle } from './history-database.js';
import { HistoryMaintenance } from './history-maintenance.js';
import { HistoryRepository } from './history.repository.js';
import { HistoryService } from './history.service.js';
import { KyselyHistoryRepository } from './kysely-history.repository.js';
import { LazyLoaderModule } from '../lazy-loader/lazy-loader.module.js';

/**
 * Caption history. Exports `HistoryService` (record + read) and the `HistoryRepository` port
 * (readiness probes call `ping()`), and the database handle (`HISTORY_DATABASE`) for features
 * that keep tables of their own in the same database. The database comes from `AppConfig.databaseUrl`; migrations
 * run before anything can use it, and it is closed when the module is destroyed. Its upkeep
 * (`HistoryMaintenance`) runs on `ScheduleModule.forRoot()`'s registry, which the app provides.
 */
@Module({
  imports: [LazyLoaderModule],
  controllers: [HistoryController],
  providers: [
    {
      // The service's one database connection (pool): features with tables of their own (batch
      // jobs) use it too, and it is closed with the repository, after the modules that use it.
      provide: HISTORY_DATABASE,
      inject: [AppConfig],
      useFactory: (config: AppConfig): HistoryDatabaseHandle =>
        openHistoryDatabase(config.databaseUrl, {
          exports: { connections: config.exports.maxConcurrent, statementTimeoutMs: config.exports.statementTimeoutMs },
          sqliteWalLimitBytes: config.history.sqliteWalLimitBytes,
        }),
    },
    {
      provide: HistoryRepository,
      inject: [HISTORY_DATABASE],
      useFactory: async (handle: HistoryDatabaseHandle) => {
        const repo = new KyselyHistoryRepository(handle);
        await repo.migrate();
        return repo;
      },
    },
    HistoryService,
    HistoryMaintenance,
  ],
  exports: [HistoryService, HistoryRepository, HISTORY_DATABASE],
})
export class HistoryModule {}
