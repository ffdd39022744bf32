import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How long after the server listens the first collection runs (it clears the boot's garbage). */
export const SETTLE_AFTER_BOOT_MS = 2000;

/**
 * Between collections: V8 judges the allocation rate over its last 5 s, so a collection shrinks
 * the young generation only when that window holds no part of the boot.
 */
const SETTLE_INTERVAL_MS = 6000;

/** At most this many collections. */
const SETTLE_ATTEMPTS = 3;

/** A young generation this small is V8's starting size: nothing is left to give back. */
const SETTLED_YOUNG_BYTES = 4 * 1024 * 1024;

/** Bytes V8 reserves for the young generation (new space) now. */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Gives back the memory the boot needed only while it ran. Loading and compiling the modules
 * allocates fast enough that V8 grows its young generation to the maximum (two 16 MB semi-spaces,
 * about 30 MB resident), and it keeps that size until a collection finds the allocation rate low,
 * which an idle process may not run for minutes. Full collections after the boot let V8 shrink it:
 * the first clears the boot's garbage, the next ones, {@link SETTLE_INTERVAL_MS} apart, find the
 * rate low and shrink it; they stop once it has shrunk, after {@link SETTLE_ATTEMPTS} at most. Under traffic V8
 * grows it again as it needs, so the figures under load are those of an unchanged runtime (no
 * `--max-semi-space-size`, which would cost throughput). The timers do not hold the process open.
 */
export function settleAfterBoot(delayMs = SETTLE_AFTER_BOOT_MS): void {
  const attempt = (left: number): void => {
    collectGarbage();
    if (left > 1 && youngGenerationBytes() > SETTLED_YOUNG_BYTES) setTimeout(attempt, SETTLE_INTERVAL_MS, left - 1).unref();
  };
  setTimeout(attempt, delayMs, SETTLE_ATTEMPTS).unref();
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
