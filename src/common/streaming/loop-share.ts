import { performance } from 'node:perf_hooks';

/** Wall-clock time all streaming producers together may hold the event loop between two of its turns. */
export const TURN_BUDGET_MS = 10;
/** The shortest slice a producer gets, however many share the budget: each still makes progress. */
const MIN_SLICE_MS = 1;

const members = new Set<LoopShare>();

/**
 * A streaming producer's share of the event loop.
 *
 * A producer whose source answers synchronously (SQLite steps rows in the calling thread) and
 * whose client reads as fast as it writes never waits on I/O: its awaits only queue microtasks,
 * so timers, probes and every other request would wait until the whole stream is sent. Each
 * producer therefore works for a slice of wall-clock time, then lets one turn of the event loop
 * run (`setImmediate`, which runs after the I/O that is ready). The producers that are running
 * share one budget of {@link TURN_BUDGET_MS} per turn: with n of them each slice is 1/n of it
 * (at least {@link MIN_SLICE_MS}), so n streams together hold the loop for about one budget.
 *
 * Usage: `join()` when the producer starts, `due()` after each item, `await yield()` when it is
 * true, `leave()` when done. Other waits do not count as a turn: a socket that took a write at
 * once emits `drain` on the next tick, before any I/O could run.
 */
export class LoopShare {
  private sliceStarted = performance.now();

  private constructor() {}

  /** A new member of the share; call {@link leave} when the producer stops. */
  static join(): LoopShare {
    const share = new LoopShare();
    members.add(share);
    return share;
  }

  /** How many producers share the loop now. */
  static get size(): number {
    return members.size;
  }

  /** True once this producer has used its slice of the current turn. */
  due(): boolean {
    const slice = Math.max(MIN_SLICE_MS, TURN_BUDGET_MS / Math.max(1, members.size));
    return performance.now() - this.sliceStarted >= slice;
  }

  /** Lets one turn of the event loop run, then starts a new slice. */
  async yield(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStarted = performance.now();
  }

  /** Leaves the share; idempotent. */
  leave(): void {
    members.delete(this);
  }
}
