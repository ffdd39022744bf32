/** Why an export was refused a slot: the service runs as many as it may, or this client does. */
export type SlotRefusal = 'service' | 'client';

/** A taken slot. `release()` is idempotent. */
export interface ExportSlot {
  release(): void;
}

/**
 * Counts running exports, in all and per client, against two caps. Each export holds a database
 * connection (PostgreSQL) or a read snapshot (SQLite) for as long as it runs, so their number is
 * what bounds connections, file descriptors and a pinned write-ahead log. Plain TypeScript, no I/O.
 */
export class ExportSlots {
  private running = 0;
  private readonly byClient = new Map<string, number>();

  /**
   * @param maxConcurrent exports the service runs at once (≥ 1).
   * @param maxPerClient exports one client runs at once (≥ 1); above `maxConcurrent` it never binds.
   * @throws RangeError when either is not a positive integer.
   */
  constructor(
    readonly maxConcurrent: number,
    readonly maxPerClient: number,
  ) {
    for (const [name, v] of [['maxConcurrent', maxConcurrent], ['maxPerClient', maxPerClient]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }

  /** Exports running now. */
  get active(): number {
    return this.running;
  }

  /** A slot for `client`, or why there is none. The client's count is forgotten when it reaches zero. */
  acquire(client: string): ExportSlot | SlotRefusal {
    const mine = this.byClient.get(client) ?? 0;
    if (mine >= this.maxPerClient) return 'client';
    if (this.running >= this.maxConcurrent) return 'service';
    this.running += 1;
    this.byClient.set(client, mine + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.running -= 1;
        const left = (this.byClient.get(client) ?? 1) - 1;
        if (left === 0) this.byClient.delete(client);
        else this.byClient.set(client, left);
      },
    };
  }
}
