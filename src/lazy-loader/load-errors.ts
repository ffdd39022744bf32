/**
 * Load failures of the lazy loader. They carry `status`, `expose` and `code` so the global error
 * filter can map them onto the contract's body without the core importing any HTTP code.
 */
export class LoadTimeoutError extends Error {
  readonly status = 504;
  readonly expose = true;
  readonly code = 'load_timeout';
  constructor(
    readonly chunkId: string,
    readonly timeoutSeconds: number,
    readonly attempts: number,
  ) {
    super(`loading the data timed out after ${attempts} attempt(s) of ${timeoutSeconds}s each`);
    this.name = 'LoadTimeoutError';
  }
}

/** The source kept failing after every retry. The cause stays on `cause` (for logs), not in the message. */
export class LoadFailedError extends Error {
  readonly status = 503;
  readonly expose = true;
  readonly code = 'load_failed';
  constructor(
    readonly chunkId: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`loading the data failed after ${attempts} attempt(s)`, { cause });
    this.name = 'LoadFailedError';
  }
}

/** The caller's signal aborted: rethrown as the signal's reason (an `AbortError` unless given). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  // A reason that is not an Error (abort('why')) still rejects with an Error, so callers can rely on a stack and a name.
  return reason instanceof Error ? reason : new DOMException(typeof reason === 'string' ? reason : 'The operation was aborted', 'AbortError');
}
