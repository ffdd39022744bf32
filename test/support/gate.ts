/** A promise and the function that resolves it (`Promise.withResolvers()` without the ES2024 lib). */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A controllable stand-in for a slow dependency: the first `free` calls of {@link pass} go
 * through at once, later ones wait until {@link open}. A spec then knows exactly what is in
 * progress when it asserts, instead of guessing from elapsed time. `new Gate()` never holds.
 */
export class Gate {
  /** Calls of `pass()` so far, held or not. */
  passes = 0;
  /** Calls of `pass()` waiting now. */
  held = 0;
  private opened = false;
  private readonly opening = deferred();

  constructor(private readonly free = Number.POSITIVE_INFINITY) {}

  async pass(): Promise<void> {
    this.passes += 1;
    if (this.opened || this.passes <= this.free) return;
    this.held += 1;
    try {
      await this.opening.promise;
    } finally {
      this.held -= 1;
    }
  }

  /** Lets every held call through, and every later one; idempotent. */
  open(): void {
    this.opened = true;
    this.opening.resolve();
  }
}
