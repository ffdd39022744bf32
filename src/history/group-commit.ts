/** One caller's rows waiting for a transaction. */
interface Waiting<R> {
  rows: R[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit: rows that callers submit in the same turn of the event loop (and while a
 * transaction runs) are written together, in one transaction, by `write`. A caller's promise
 * settles only once that transaction has committed (its rows are durable) or failed; nothing is
 * acknowledged before it is written. At most one transaction runs at a time; a group is cut at
 * `maxRows` (whole callers, so one caller's rows are never split), the rest wait for the next one.
 *
 * When a group's transaction fails, each caller's rows are written again in a transaction of
 * their own, so the error reaches only the callers whose rows fail.
 */
export class GroupCommitter<R> {
  private queue: Array<Waiting<R>> = [];
  private queuedRows = 0;
  private scheduled = false;
  private running?: Promise<void>;

  constructor(
    private readonly write: (rows: R[]) => Promise<void>,
    readonly maxRows = 1000,
  ) {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be an integer ≥ 1, got ${maxRows}`);
  }

  /** Resolves once `rows` are committed; rejects with the error of the transaction that held them alone. */
  submit(rows: R[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.queuedRows += rows.length;
      this.kick();
    });
  }

  /** Resolves when nothing is queued or being written (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.running || this.queue.length > 0) {
      // Not waiting for the scheduled turn: awaiting nothing here would spin on microtasks and starve it.
      this.running ??= this.drain();
      await this.running;
    }
  }

  private kick(): void {
    if (this.running) return;
    if (this.queuedRows >= this.maxRows) {
      this.running = this.drain();
      return;
    }
    if (this.scheduled) return;
    // Wait for the rest of this turn: every caller that submits before then shares the transaction.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.running && this.queue.length > 0) this.running = this.drain();
    });
  }

  /** Writes groups until the queue is empty: callers that arrived during a transaction go in the next. */
  private drain(): Promise<void> {
    const run = async () => {
      while (this.queue.length > 0) await this.commit(this.take());
    };
    // `finally` runs its callback asynchronously, so `running` is always cleared after it was set.
    return run().finally(() => {
      this.running = undefined;
      // A caller that submitted between the loop's last look at the queue and now (a caller whose
      // rows just failed, storing again from its rejection handler) found `running` set and did not
      // schedule a drain: without this its rows would wait for the next submit, maybe forever.
      if (this.queue.length > 0) this.kick();
    });
  }

  private take(): Array<Waiting<R>> {
    const group: Array<Waiting<R>> = [];
    let n = 0;
    while (this.queue.length > 0 && (group.length === 0 || n + this.queue[0]!.rows.length <= this.maxRows)) {
      const w = this.queue.shift()!;
      group.push(w);
      n += w.rows.length;
    }
    this.queuedRows -= n;
    return group;
  }

  private async commit(group: Array<Waiting<R>>): Promise<void> {
    try {
      await this.write(group.length === 1 ? group[0]!.rows : group.flatMap((w) => w.rows));
      for (const w of group) w.resolve();
      return;
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(err);
        return;
      }
    }
    // The group failed as a whole: find whose rows fail, one caller per transaction.
    for (const w of group) {
      try {
        await this.write(w.rows);
        w.resolve();
      } catch (err) {
        w.reject(err);
      }
    }
  }
}
