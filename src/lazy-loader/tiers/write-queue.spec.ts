import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packItems } from '../compression.js';
import { tempDir } from '../testing/temp-loader.js';
import { DiskTier } from './disk-tier.js';
import { WriteQueue } from './write-queue.js';

describe(WriteQueue.name, () => {
  let tmp: ReturnType<typeof tempDir>;
  let disk: DiskTier;
  beforeEach(() => {
    tmp = tempDir();
    disk = new DiskTier({ dir: tmp.dir, maxBytes: 100 * 1024 * 1024, maxEntries: 1000, ttlMs: 60_000, compression: 'gzip', compressionThreshold: 0 });
  });
  afterEach(() => {
    disk.close();
    tmp.cleanup();
  });

  it('makes a writer wait while the queued bytes would pass the limit, and never holds more', async () => {
    const sut = new WriteQueue(disk, 250_000);
    const chunk = packItems(['x'.repeat(100_000)]);
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      await sut.room(chunk.length);
      sut.start(`k${i}`, chunk, 100_000);
      peak = Math.max(peak, sut.queuedBytes);
    }
    expect(peak).toBeLessThanOrEqual(250_000);
    await sut.flush();
    expect(sut.queuedBytes).toBe(0);
    expect(disk.entries).toBe(20);
  });

  it('lets a chunk larger than the whole limit through when nothing else is queued', async () => {
    const sut = new WriteQueue(disk, 10);
    await sut.room(1000);
    sut.start('big', packItems(['y'.repeat(990)]), 1000);
    expect(sut.queuedBytes).toBeGreaterThan(10);
    await sut.room(1000); // waits for the big write: only then is the queue empty
    expect(sut.queuedBytes).toBe(0);
    expect((await disk.get('big'))?.items).toEqual(['y'.repeat(990)]);
  });
});
