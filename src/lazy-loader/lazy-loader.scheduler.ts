import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { LazyLoaderService } from './lazy-loader.service.js';
import { ScheduledJob } from './scheduled-job.js';

/**
 * The scheduled providers: the memory monitor, the disk sweep and the background prefetch of the
 * chunks after recently read ones, at the configured intervals. Registered in the
 * `SchedulerRegistry` when the app starts; removed (and the running ones awaited) on shutdown.
 */
@Injectable()
export class LazyLoaderScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('LazyLoaderScheduler');
  readonly jobs: ScheduledJob[];

  constructor(
    private readonly loader: LazyLoaderService,
    private readonly registry: SchedulerRegistry,
  ) {
    const c = loader.config;
    this.jobs = [
      new ScheduledJob('lazy-loader.memory-monitor', c.memory_monitor_interval_ms, () => this.loader.runMemoryMonitor(), this.logger),
      new ScheduledJob('lazy-loader.disk-sweep', c.disk_sweep_interval_ms, () => this.loader.sweepDisk(), this.logger),
      new ScheduledJob('lazy-loader.prefetch', c.prefetch_interval_ms, () => this.loader.prefetchRecent(), this.logger),
    ];
  }

  onApplicationBootstrap(): void {
    for (const job of this.jobs) {
      const handle = setInterval(() => void this.loader.counters.track(job.tick()), job.intervalMs);
      // The jobs alone must never keep the process alive.
      handle.unref();
      this.registry.addInterval(job.name, handle);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    for (const job of this.jobs) {
      if (this.registry.doesExist('interval', job.name)) this.registry.deleteInterval(job.name);
    }
    await Promise.all(this.jobs.map((j) => j.current).filter((run) => run !== null));
  }
}
