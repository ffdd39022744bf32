import { abortReason } from './load-errors.js';

export interface RetryOptions {
  /** Milliseconds one attempt may take. */
  timeoutMs: number;
  /** Extra attempts after the first. */
  retries: number;
  /** Aborting stops the current attempt and every retry. */
  signal: AbortSignal;
  /** First backoff (ms), doubled per retry, capped at `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** [0, 1) source for jitter; `Math.random` by default. */
  random?: () => number;
}

export type AttemptOutcome =
  | { ok: true; value: unknown; attempts: number; retries: number }
  | { ok: false; timedOut: boolean; error: unknown; attempts: number; retries: number };

class AttemptTimeout extends Error {}

/** Abortable sleep on `setTimeout`, so fake timers drive it. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt, bounded by `timeoutMs` even when `fn` ignores its signal. */
async function attempt<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs: number, parent: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(abortReason(parent));
  parent.addEventListener('abort', onParentAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new AttemptTimeout();
      controller.abort(e);
      reject(e);
    }, timeoutMs);
    controller.signal.addEventListener('abort', () => reject(abortReason(controller.signal)), { once: true });
  });
  stopped.catch(() => undefined);
  try {
    return await Promise.race([fn(controller.signal), stopped]);
  } finally {
    clearTimeout(timer);
    parent.removeEventListener('abort', onParentAbort);
  }
}

/**
 * Runs `fn` with a per-attempt timeout and up to `retries` retries, sleeping an exponential
 * backoff with jitter between them (half fixed, half random, so retries of many callers spread
 * out). The caller's abort is never retried: it rejects at once with the signal's reason.
 */
export async function withRetry<T>(fn: (signal: AbortSignal) => Promise<T>, o: RetryOptions): Promise<AttemptOutcome> {
  const base = o.baseDelayMs ?? 100;
  const cap = o.maxDelayMs ?? 5_000;
  const random = o.random ?? Math.random;
  let lastError: unknown;
  let timedOut = false;
  let attempts = 0;
  for (let i = 0; i <= o.retries; i++) {
    if (i > 0) {
      const d = Math.min(cap, base * 2 ** (i - 1));
      await sleep(d / 2 + random() * (d / 2), o.signal);
    }
    attempts++;
    try {
      return { ok: true, value: await attempt(fn, o.timeoutMs, o.signal), attempts, retries: attempts - 1 };
    } catch (err) {
      if (o.signal.aborted) throw abortReason(o.signal);
      timedOut = err instanceof AttemptTimeout;
      lastError = err;
    }
  }
  return { ok: false, timedOut, error: lastError, attempts, retries: attempts - 1 };
}
