import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { setMaxListeners } from 'node:events';
import { RedisConnection } from '../common/redis/redis-connection.js';
import { AppConfig } from '../config/app-config.js';
import { BatchRunner } from './batch-runner.js';
import { CHUNK_ITEMS, ChunkWorker } from './chunk-worker.js';
import { jobQueueDepth } from './jobs.metrics.js';
import { JobsRepository } from './jobs.repository.js';

const QUEUE = 'batch-chunks';

/**
 * Lock and stall settings. A worker renews its job's lock every `LOCK_MS / 2`; a worker killed
 * with `kill -9` stops renewing, its lock lapses within `LOCK_MS`, and the next stalled check of
 * any live worker (every `STALLED_INTERVAL_MS`) puts the job back: taken over within
 * `LOCK_MS + STALLED_INTERVAL_MS` = 12 s. A job may stall this many times (rolling restarts,
 * crashes) before it fails; the reconciler queues a failed chunk again anyway.
 */
export const LOCK_MS = 8_000;
export const STALLED_INTERVAL_MS = 4_000;
const MAX_STALLED = 20;

interface ChunkJob {
  batchId: string;
  chunk: number;
}

/**
 * The runner with `REDIS_URL`: a BullMQ queue shared by every replica, a job per chunk (id
 * `<batch>.<chunk>`: BullMQ refuses `:` in ids), so queueing a chunk that is waiting or running again adds nothing), one chunk
 * at a time per replica. BullMQ's delivery is at least once; the tables make it once in effect
 * (results written once). On shutdown the worker takes no new job, and the chunk running stops
 * after its slice and goes back to the queue (moved to wait, not failed) for another replica.
 */
@Injectable()
export class BullmqRunner extends BatchRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BullmqRunner.name);
  private readonly queue: Queue<ChunkJob>;
  private worker?: Worker<ChunkJob>;
  private readonly controller = new AbortController();
  private stopping = false;
  /** The connections BullMQ is given (a blocking worker needs its own); closed here, after the queue and worker. */
  private readonly connections: Redis[] = [];

  constructor(
    private readonly chunks: ChunkWorker,
    private readonly repo: JobsRepository,
    private readonly redis: RedisConnection,
    private readonly config: AppConfig,
  ) {
    super();
    setMaxListeners(0, this.controller.signal);
    this.queue = new Queue<ChunkJob>(QUEUE, {
      connection: this.connection(),
      prefix: this.prefix,
    });
    this.queue.on('error', (err) => this.logger.warn({ err }, 'Batch job queue error'));
  }

  /** BullMQ's connections wait for Redis instead of failing fast: no retry limit per command, no command timeout. */
  private connection(): Redis {
    const c = this.redis.duplicate({ maxRetriesPerRequest: null, commandTimeout: undefined, enableOfflineQueue: true });
    c.on('error', () => undefined);
    this.connections.push(c);
    return c;
  }

  private get prefix(): string {
    return this.redis.key('bull');
  }

  /**
   * Queues every chunk of a batch. Never waits on a Redis that is down (BullMQ's own connections
   * would, until it is back): it fails at once, or after `REDIS_COMMAND_TIMEOUT_MS` for a Redis that
   * stops answering midway, and the batch is queued when Redis is back ({@link onApplicationBootstrap})
   * or by the reconciler. The batch itself is already stored: nothing is lost.
   */
  async schedule(batchId: string, total: number): Promise<void> {
    if (!this.redis.ready) throw new Error('Redis is unreachable: the batch is queued once it is back');
    const n = Math.max(1, Math.ceil(total / CHUNK_ITEMS));
    const jobs = Array.from({ length: n }, (_, chunk) => ({
      name: 'chunk',
      data: { batchId, chunk },
      opts: { jobId: `${batchId}.${chunk}`, removeOnComplete: true, removeOnFail: true, attempts: 5, backoff: { type: 'exponential', delay: 1000 } },
    }));
    for (let i = 0; i < jobs.length; i += 500) await this.withinCommandTimeout(this.queue.addBulk(jobs.slice(i, i + 500)));
  }

  private withinCommandTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Redis did not answer in time: the batch is queued once it is back')), this.config.redis.commandTimeoutMs);
    });
    // The late answer, if any, is dropped: queueing again adds nothing (job ids).
    work.catch(() => undefined);
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }

  async resume(): Promise<number> {
    const batches = await this.repo.runnable();
    for (const b of batches) await this.schedule(b.id, b.total);
    jobQueueDepth.set(await this.queue.count());
    return batches.length;
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker<ChunkJob>(QUEUE, (job, token) => this.process(job, token), {
      connection: this.connection(),
      prefix: this.prefix,
      concurrency: 1,
      lockDuration: LOCK_MS,
      stalledInterval: STALLED_INTERVAL_MS,
      maxStalledCount: MAX_STALLED,
    });
    this.worker.on('error', (err) => this.logger.warn({ err }, 'Batch job worker error'));
    this.worker.on('failed', (job, err) => this.logger.error({ err, job: job?.id }, 'Batch job chunk failed'));
    // Redis back after an outage (or reachable at last after a start without it): its queue may have
    // lost jobs (a Redis without persistence starts empty) and batches created meanwhile were never
    // queued. Queue every batch with items left at once rather than at the reconciler's next run;
    // chunks already queued are not added twice, and finished items are never run again.
    this.redis.client?.on('ready', () => {
      if (this.stopping) return;
      void this.resume().then(
        (n) => this.logger.log(`Redis is back: ${n} batch(es) with items left queued again`),
        (err: unknown) => this.logger.warn({ err }, 'Redis is back but the batches could not be queued again; the reconciler will'),
      );
    });
  }

  private async process(job: Job<ChunkJob>, token?: string): Promise<void> {
    const outcome = await this.chunks.run(job.data.batchId, job.data.chunk, () => this.stopping, this.controller.signal);
    if (outcome === 'stopped') {
      // Handed back whole: another replica picks it up at once, without counting an attempt.
      await job.moveToWait(token);
      throw new WaitingError();
    }
  }

  /** Shutdown: the running chunk stops after its slice and is handed back; then the connections close. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (!this.redis.ready) {
      // Redis unreachable: BullMQ's close waits for it (its connections retry without limit), so a
      // stopping replica would hang until killed. Nothing can be handed back anyway: the running
      // chunk's lock expires and another replica takes the chunk over (stalled-job recovery).
      for (const c of this.connections) c.disconnect();
      await Promise.allSettled([this.worker?.close(true), this.queue.close()]);
      return;
    }
    await this.worker?.close();
    await this.queue.close();
    for (const c of this.connections) c.disconnect();
  }
}
