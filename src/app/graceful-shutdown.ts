import { Logger, type INestApplication } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResponseStream } from '../common/streaming/response-stream.js';
import { ShutdownState } from '../common/lifecycle/shutdown-state.js';

/**
 * Time kept back at the end of `graceMs` for Nest's hooks (the batch runner handing its chunk back,
 * the history flush, closing the database) after in-flight requests are cut off: a fifth of it, at
 * most 5 s. Deployment manifests size their grace period with it.
 */
export function shutdownReserveMs(graceMs: number): number {
  return Math.min(5000, Math.floor(graceMs / 5));
}

export interface GracefulShutdownOptions {
  /** Keep serving this long after the signal (readiness already 503) so the load balancer notices. */
  delayMs: number;
  /** Everything, hooks included, must be over this long after the signal. */
  graceMs: number;
  /** Called once at the end; `process.exit` in production. */
  exit?: (code: number) => void;
}

/**
 * The shutdown sequence for SIGTERM/SIGINT (Kubernetes removes the endpoint while the signal is
 * delivered, so the order matters):
 *
 * 1. readiness answers 503 at once; requests are still served for `delayMs`;
 * 2. the server stops accepting connections; idle keep-alive connections close;
 * 3. open streams end with the shutdown error item (`ResponseStream.endAll()`);
 * 4. in-flight requests finish; those still running at `graceMs` less a reserve are cut off;
 * 5. scheduled jobs stop, then Nest's hooks run (`app.close()`: the database closes last, after
 *    every request that could write to it is over, so no row is half-written);
 * 6. exit 0. Should a hook hang, a hard timer exits 1 at `graceMs`.
 *
 * Nest's own `enableShutdownHooks()` is not used: it closes providers before the server stops
 * and has no delay, and it re-raises the signal, which exits non-zero.
 */
export class GracefulShutdown {
  private readonly logger = new Logger('GracefulShutdown');
  private running?: Promise<void>;

  constructor(
    private readonly app: INestApplication,
    private readonly server: Server,
    private readonly options: GracefulShutdownOptions,
  ) {}

  /** Runs {@link run} on the first of `signals`; later signals are ignored while it runs. */
  install(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
    for (const signal of signals) process.on(signal, () => void this.run(signal));
  }

  /** Shuts down once; a second call returns the same promise. */
  run(reason: string): Promise<void> {
    this.running ??= this.sequence(reason);
    return this.running;
  }

  private async sequence(reason: string): Promise<void> {
    const { delayMs, graceMs } = this.options;
    const exit = this.options.exit ?? ((code: number) => process.exit(code));
    const started = Date.now();
    const reserveMs = shutdownReserveMs(graceMs);
    const drainDeadline = started + graceMs - reserveMs;
    const hard = setTimeout(() => {
      this.logger.error(`Shutdown did not finish within ${graceMs} ms; exiting`);
      exit(1);
    }, graceMs);
    hard.unref();

    const state = this.app.get(ShutdownState);
    state.enter('draining');
    this.logger.log(`${reason}: readiness is 503; serving for ${delayMs} ms more`);
    await sleep(Math.max(0, Math.min(delayMs, drainDeadline - Date.now())));

    state.enter('closing');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const streams = ResponseStream.openCount();
    this.logger.log(`No longer accepting connections; ending ${streams} open stream(s)`);
    const inFlight = Promise.all([closed, ResponseStream.endAll()]);
    const finished = await Promise.race([
      inFlight.then(() => true),
      sleep(Math.max(0, drainDeadline - Date.now())).then(() => false),
    ]);
    if (!finished) {
      this.logger.warn('Requests still running at the deadline: closing their connections');
      this.server.closeAllConnections();
      await Promise.race([closed, sleep(1000)]);
    }

    this.stopScheduledJobs();
    try {
      await this.app.close();
    } catch (err) {
      this.logger.error({ err }, 'A shutdown hook failed');
      clearTimeout(hard);
      exit(1);
      return;
    }
    clearTimeout(hard);
    this.logger.log(`Shut down in ${Date.now() - started} ms`);
    exit(0);
  }

  /** Stops @nestjs/schedule jobs before the providers they call are torn down. */
  private stopScheduledJobs(): void {
    let registry: SchedulerRegistry;
    try {
      registry = this.app.get(SchedulerRegistry, { strict: false });
    } catch {
      return; // No scheduler in this app.
    }
    for (const job of registry.getCronJobs().values()) void job.stop();
    for (const name of registry.getIntervals()) registry.deleteInterval(name);
    for (const name of registry.getTimeouts()) registry.deleteTimeout(name);
  }
}
