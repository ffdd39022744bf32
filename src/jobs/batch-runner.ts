/**
 * Where the work of batches runs: a port, and the DI token of its adapter (in process without
 * Redis; see `in-process-runner.ts`).
 */
export abstract class BatchRunner {
  /** Queues every chunk of a batch of `total` items (chunks already queued are not queued twice). */
  abstract schedule(batchId: string, total: number): Promise<void>;
  /**
   * Queues the chunks of every batch that still has items to run, unless this process already runs
   * them: the resume after a restart, and the reconciler's re-queue of stalled batches.
   */
  abstract resume(): Promise<number>;
}
