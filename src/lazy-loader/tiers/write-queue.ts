import type { DiskTier } from './disk-tier.js';

/**
 * Disk writes run behind the response, but never without bound: `room()` waits until a chunk
 * fits under `limitBytes` of queued writes, so a scan faster than the disk waits instead of
 * piling unwritten chunks up in memory (measured: 25× the budget before this queue existed).
 */
export class WriteQueue {
  private readonly pending = new Set<Promise<void>>();
  private bytes = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly disk: DiskTier,
    readonly limitBytes: number,
  ) {}

  /** Resolves once `bytes` more fit (at once when the queue is empty, whatever the size). */
  async room(bytes: number): Promise<void> {
    while (this.bytes + bytes > this.limitBytes && this.pending.size > 0) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Starts writing `packed` (and `itemBytes`, see `DiskTier.set`) under `id`; the disk tier counts its own failures. */
  start(id: string, packed: Buffer, itemBytes: number): void {
    this.bytes += packed.length;
    // Behind the response: the write (synchronous in SQLite) starts once the caller's own
    // continuations have run, not in the microtasks ahead of them.
    const w: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.disk.set(id, packed, itemBytes)).finally(() => {
      this.pending.delete(w);
      this.bytes -= packed.length;
      this.waiters.shift()?.();
    });
    this.pending.add(w);
  }

  /** Waits for every write started so far (and any started meanwhile). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  get queuedBytes(): number {
    return this.bytes;
  }
}
