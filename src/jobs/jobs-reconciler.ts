import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config.js';
import { ScheduledJob } from '../lazy-loader/scheduled-job.js';
import { BatchRunner } from './batch-runner.js';
import { jobBatches, jobItemsEnded } from './jobs.metrics.js';
import { JobsRepository } from './jobs.repository.js';

const LEASE = 'jobs.reconciler';
/** A staged upload older than this belongs to a request that died: its rows are dropped. */
const STAGED_MAX_AGE_MS = 6 * 3600 * 1000;

/**
 * Every `BATCH_JOB_RECONCILE_INTERVAL_MS`, on one process at a time (a lease row in the database,
 * held for three intervals and renewed each run): ends the items of batches past `expires_at`
 * `expired` and ends those batches, deletes batches past `BATCH_JOB_RETENTION` (and uploads that
 * never committed), and queues again every batch that still has items to run (a chunk whose
 * worker died, a failed chunk). Queueing again is safe: results are written once.
 */
@Injectable()
export class JobsReconciler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(JobsReconciler.name);
  private readonly holder = randomUUID();
  readonly job: ScheduledJob;

  constructor(
    private readonly repo: JobsRepository,
    private readonly runner: BatchRunner,
    private readonly registry: SchedulerRegistry,
    private readonly config: AppConfig,
  ) {
    this.job = new ScheduledJob('jobs.reconcile', config.jobs.reconcileIntervalMs, () => this.reconcile(), this.logger);
  }

  onApplicationBootstrap(): void {
    const handle = setInterval(() => void this.job.tick(), this.job.intervalMs);
    handle.unref();
    this.registry.addInterval(this.job.name, handle);
  }

  async onModuleDestroy(): Promise<void> {
    if (this.registry.doesExist('interval', this.job.name)) this.registry.deleteInterval(this.job.name);
    await this.job.current;
  }

  /** One run; false when another process holds the lease. */
  async reconcile(now = Date.now()): Promise<boolean> {
    if (!(await this.repo.lease(LEASE, this.holder, 3 * this.config.jobs.reconcileIntervalMs, now))) return false;
    for (const id of await this.repo.overdue(now)) {
      const n = await this.repo.endOpen(id, ['pending', 'processing'], 'expired', now);
      if (n > 0) jobItemsEnded.inc({ state: 'expired' }, n);
      if (await this.repo.endIfDone(id, now)) jobBatches.inc({ event: 'expired' });
    }
    while ((await this.repo.deleteOld(now - this.config.jobs.retentionMs, now - STAGED_MAX_AGE_MS)) > 0);
    await this.runner.resume();
    return true;
  }
}
