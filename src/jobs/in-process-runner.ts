import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import { BatchRunner } from './batch-runner.js';
import { CHUNK_ITEMS, ChunkWorker } from './chunk-worker.js';
import { jobQueueDepth } from './jobs.metrics.js';
import { JobsRepository } from './jobs.repository.js';

interface ChunkTask {
  batchId: string;
  chunk: number;
}

/**
 * The runner without Redis: a queue in this process over the tables, one chunk at a time (its
 * items `BATCH_JOB_CONCURRENCY` at a time), batches in the order they were queued. Nothing of the
 * queue needs keeping: the tables say what is left, so after a restart {@link resume} queues every
 * batch that has items to run, and items a killed process had started are run again (their result
 * is written once whatever happens). On shutdown it takes no more slices, lets the slice in flight
 * finish, and leaves the rest to the next start.
 */
@Injectable()
export class InProcessRunner extends BatchRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(InProcessRunner.name);
  private readonly queue: ChunkTask[] = [];
  private readonly queued = new Set<string>();
  private readonly controller = new AbortController();
  private running?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly worker: ChunkWorker,
    private readonly repo: JobsRepository,
  ) {
    super();
    setMaxListeners(0, this.controller.signal);
  }

  async schedule(batchId: string, total: number): Promise<void> {
    const chunks = Math.max(1, Math.ceil(total / CHUNK_ITEMS));
    for (let chunk = 0; chunk < chunks; chunk++) {
      const key = `${batchId}:${chunk}`;
      if (this.queued.has(key)) continue;
      this.queued.add(key);
      this.queue.push({ batchId, chunk });
    }
    jobQueueDepth.set(this.queue.length);
    this.pump();
  }

  async resume(): Promise<number> {
    const batches = await this.repo.runnable();
    for (const b of batches) await this.schedule(b.id, b.total);
    return batches.length;
  }

  async onApplicationBootstrap(): Promise<void> {
    const n = await this.resume();
    if (n > 0) this.logger.log(`Resuming ${n} batch job(s) left unfinished`);
  }

  /** Shutdown: no new slice starts; the one in flight finishes; what is left stays in the tables. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Settles when the queue is empty and nothing runs (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private pump(): void {
    if (this.running || this.stopping) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      // A task queued while the last one finished.
      if (this.queue.length > 0) this.pump();
    });
  }

  private async drain(): Promise<void> {
    for (let task = this.queue.shift(); task && !this.stopping; task = this.queue.shift()) {
      jobQueueDepth.set(this.queue.length);
      const key = `${task.batchId}:${task.chunk}`;
      try {
        const outcome = await this.worker.run(task.batchId, task.chunk, () => this.stopping, this.controller.signal);
        if (outcome === 'stopped') return;
      } catch (err) {
        // The items stay open in the tables: the reconciler queues the batch again.
        this.logger.error({ err, batch_id: task.batchId, chunk: task.chunk }, 'Batch job chunk failed; it will be resumed');
      } finally {
        this.queued.delete(key);
      }
    }
  }
}
