import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { LoaderMaintenance } from './loader-ports.js';
import { LazyLoaderService } from './lazy-loader.service.js';
import { ScheduledJob } from './scheduled-job.js';

/**
 * The scheduled providers: the loader's periodic tasks ({@link LoaderMaintenance}: the memory
 * monitor, the disk sweep and the background prefetch of the chunks after recently read ones), at
 * the configured intervals. Registered in the `SchedulerRegistry` when the app starts; removed
 * (and the running ones awaited) on shutdown.
 */
@Injectable()
export class LazyLoaderScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('LazyLoaderScheduler');
  readonly jobs: ScheduledJob[];

  constructor(
    @Inject(LazyLoaderService) loader: LoaderMaintenance,
    private readonly registry: SchedulerRegistry,
  ) {
    this.jobs = loader.maintenanceTasks().map((task) => new ScheduledJob(task.name, task.intervalMs, () => task.run(), this.logger));
  }

  onApplicationBootstrap(): void {
    for (const job of this.jobs) {
      const handle = setInterval(() => void job.tick(), job.intervalMs);
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
