import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config.js';
import { ScheduledJob } from '../lazy-loader/scheduled-job.js';
import { HistoryRepository } from './history.repository.js';

/**
 * The history database's upkeep every `SQLITE_CHECKPOINT_INTERVAL_MS` ({@link HistoryRepository.maintain}):
 * on SQLite the write-ahead log is checkpointed, and truncated when no export reads, so a log that
 * grew while long exports held their snapshots gives the disk back once they end. Registered in
 * the `SchedulerRegistry` when the app starts, removed when the module is destroyed.
 */
@Injectable()
export class HistoryMaintenance implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('HistoryMaintenance');
  readonly job: ScheduledJob;

  constructor(
    repo: HistoryRepository,
    private readonly registry: SchedulerRegistry,
    config: AppConfig,
  ) {
    this.job = new ScheduledJob('history.maintain', config.history.sqliteCheckpointIntervalMs, () => repo.maintain(), this.logger);
  }

  onApplicationBootstrap(): void {
    const handle = setInterval(() => void this.job.tick(), this.job.intervalMs);
    // The job alone must never keep the process alive.
    handle.unref();
    this.registry.addInterval(this.job.name, handle);
  }

  async onModuleDestroy(): Promise<void> {
    if (this.registry.doesExist('interval', this.job.name)) this.registry.deleteInterval(this.job.name);
    await this.job.current;
  }
}
