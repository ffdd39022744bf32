/** Where a job reports a failed run (a Nest `Logger` fits). */
export interface JobLogger {
  error(message: string, stack?: string): void;
}

/**
 * A periodic job that never overlaps itself: a tick that finds the previous run still going is
 * skipped. A failing run is logged and the next tick runs as usual. Plain TypeScript: the
 * scheduler registers `tick` with @nestjs/schedule.
 */
export class ScheduledJob {
  private running: Promise<void> | null = null;
  runs = 0;
  failures = 0;
  skipped = 0;

  constructor(
    readonly name: string,
    readonly intervalMs: number,
    private readonly work: () => unknown,
    private readonly logger: JobLogger,
  ) {}

  /** Runs the job unless it is still running. @returns the run (resolved even when it failed). */
  tick(): Promise<void> {
    if (this.running) {
      this.skipped++;
      return this.running;
    }
    this.runs++;
    const run = (async () => {
      try {
        await this.work();
      } catch (err) {
        this.failures++;
        this.logger.error(`scheduled job ${this.name} failed: ${(err as Error).message}`, (err as Error).stack);
      }
    })();
    // Cleared after the assignment (a synchronous job settles before it), and only if still ours.
    this.running = run.finally(() => {
      if (this.running === guarded) this.running = null;
    });
    const guarded = this.running;
    return this.running;
  }

  /** The run in progress, if any (awaited on shutdown). */
  get current(): Promise<void> | null {
    return this.running;
  }
}
