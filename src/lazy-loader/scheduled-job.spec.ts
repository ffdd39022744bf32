import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ScheduledJob } from './scheduled-job.js';

describe(ScheduledJob.name, () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('never overlaps a run that is still going', async () => {
    let active = 0;
    let maxActive = 0;
    const sut = new ScheduledJob('slow', 100, async () => {
      maxActive = Math.max(maxActive, ++active);
      // A fake-clock delay: the run spans two and a half intervals, whatever the machine.
      await new Promise((r) => setTimeout(r, 250));
      active--;
    }, { error: () => undefined });
    const timer = setInterval(() => void sut.tick(), sut.intervalMs);
    await vi.advanceTimersByTimeAsync(1000);
    clearInterval(timer);
    expect(maxActive).toBe(1);
    // Ticks at 100…1000: runs start at 100, 400, 700 and 1000; the six ticks between are skipped.
    expect([sut.runs, sut.skipped]).toEqual([4, 6]);
  });

  it('logs a failing run and still runs the next one', async () => {
    const errors: string[] = [];
    let n = 0;
    const sut = new ScheduledJob('flaky', 100, () => {
      if (++n === 1) throw new Error('disk on fire');
    }, { error: (m) => errors.push(m) });
    await sut.tick();
    await sut.tick();
    expect([sut.runs, sut.failures, n]).toEqual([2, 1, 2]);
    expect(errors).toEqual(['scheduled job flaky failed: disk on fire']);
  });
});
