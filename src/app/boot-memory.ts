import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How long after the server listens the boot's young generation is given back. */
export const SETTLE_AFTER_BOOT_MS = 5000;

/**
 * Gives back the memory the boot needed only while it ran. Loading and compiling the modules
 * allocates fast enough that V8 grows its young generation to the maximum (two 16 MB semi-spaces,
 * about 30 MB resident), and it keeps that size until a collection finds the allocation rate low,
 * which an idle process may not run for minutes. One full collection once the boot has been over
 * for a few seconds lets V8 shrink it; under traffic V8 grows it again as it needs, so the figures
 * under load are those of an unchanged runtime (no `--max-semi-space-size`, which would cost
 * throughput). Runs once; the timer does not hold the process open.
 */
export function settleAfterBoot(delayMs = SETTLE_AFTER_BOOT_MS): void {
  // Two collections a second apart: V8 shrinks the young generation in a collection that sees a
  // low allocation rate since the one before, and it reads no allocation at all (a process that
  // has been perfectly idle) as no figure rather than a low one.
  setTimeout(() => {
    collectGarbage();
    setTimeout(collectGarbage, 1000).unref();
  }, delayMs).unref();
}

/**
 * One full garbage collection: `global.gc` when the process runs with `--expose-gc`, else V8's
 * collector reached through a context created while the flag is briefly on (the flag is turned
 * off again, so no other code gains a `gc` global).
 */
function collectGarbage(): void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed();
  setFlagsFromString('--expose-gc');
  try {
    (runInNewContext('gc') as () => void)();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
