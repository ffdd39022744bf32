import { Test } from '@nestjs/testing';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { DataSize, resolveLoaderConfig } from './loader-config.js';
import { LazyLoader } from './lazy-loader.js';
import { LazyLoaderModule } from './lazy-loader.module.js';
import { LazyLoaderScheduler } from './lazy-loader.scheduler.js';
import { LazyLoaderService } from './lazy-loader.service.js';
import type { LazyLoaderOptions } from './loader-config.js';
import { countingSource } from './testing/sources.js';
import { tempDir } from './testing/temp-loader.js';

describe(LazyLoaderModule.name, () => {
  let tmp: ReturnType<typeof tempDir>;
  let app: INestApplicationContext | undefined;
  const boot = async (env: Record<string, string> = {}, options?: LazyLoaderOptions) => {
    const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: tmp.dir, ...env });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), ScheduleModule.forRoot(), ...(options ? [LazyLoaderModule.forRoot(options)] : []), LazyLoaderModule],
    }).compile();
    app = await moduleRef.init();
    return app.get(LazyLoaderService);
  };
  beforeEach(() => (tmp = tempDir()));
  afterEach(async () => {
    await app?.close();
    app = undefined;
    tmp.cleanup();
  });

  it('takes its configuration from the environment, the profile filling what is unset', async () => {
    const sut = await boot({ LAZY_DATA_SIZE: 'large', LAZY_CHUNK_SIZE: '250', LAZY_CACHE_TTL: '60', LAZY_LOAD_TIMEOUT: '5' });
    expect(sut.config).toMatchObject({
      data_size: 'large',
      chunk_config: { chunk_size: 250, max_chunks_in_memory: 10, prefetch_chunks: 3, compression_type: 'none' },
      max_memory_mb: 2048,
      enable_disk_cache: true,
      disk_cache_dir: `${tmp.dir}/cache`,
      cache_ttl: 60,
      load_timeout: 5,
    });
  });

  it('forRoot({ dataSize, ...overrides }) sets a profile plus overrides', async () => {
    const sut = await boot({}, { dataSize: DataSize.HUGE, max_memory_mb: 4096, prefetch_chunks: 1 });
    expect(sut.config).toMatchObject({ data_size: 'huge', max_memory_mb: 4096, chunk_config: { chunk_size: 10000, prefetch_chunks: 1 } });
  });

  it('is one loader for every feature module that imports it', async () => {
    @Module({ imports: [LazyLoaderModule], providers: [{ provide: 'A', inject: [LazyLoaderService], useFactory: (l: LazyLoaderService) => l }], exports: ['A'] })
    class FeatureA {}
    @Module({ imports: [LazyLoaderModule], providers: [{ provide: 'B', inject: [LazyLoaderService], useFactory: (l: LazyLoaderService) => l }], exports: ['B'] })
    class FeatureB {}
    const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: tmp.dir });
    const moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), ScheduleModule.forRoot(), FeatureA, FeatureB] }).compile();
    app = await moduleRef.init();
    expect(app.get('A', { strict: false })).toBeInstanceOf(LazyLoaderService);
    expect(app.get('A', { strict: false })).toBe(app.get('B', { strict: false }));
  });

  it('registers its scheduled jobs at the configured intervals, runs them, and removes them on shutdown', async () => {
    const sut = await boot({ LAZY_MEMORY_MONITOR_INTERVAL_MS: '100', LAZY_PREFETCH_INTERVAL_MS: '100' });
    const registry = app!.get(SchedulerRegistry);
    const scheduler = app!.get(LazyLoaderScheduler);
    expect(registry.getIntervals().sort()).toEqual(['lazy-loader.disk-sweep', 'lazy-loader.memory-monitor', 'lazy-loader.prefetch']);
    // background prefetch of the chunks after a recent read
    const { source, calls } = countingSource(1000, 'recent', 10);
    await sut.getChunk(source, 4);
    await vi.waitFor(() => expect(calls.sort()).toEqual([4, 5, 6, 7]), { timeout: 2000 });
    await vi.waitFor(() => expect(scheduler.jobs[0]!.runs).toBeGreaterThanOrEqual(1), { timeout: 2000 });
    await app!.close();
    app = undefined;
    expect(registry.getIntervals()).toEqual([]);
    expect(sut.status().disk.open).toBe(false);
  });
});

describe(`${LazyLoader.name} memory monitor`, () => {
  it('runs the cleanup down to memory_threshold of the budget once the tier passes it', async () => {
    const tmp = tempDir();
    // 1 MB budget, threshold 0.5: ~100 KB chunks, 10 fit, the monitor trims to ≤ 512 KB
    const sut = new LazyLoader(resolveLoaderConfig({ dataSize: 'small', max_memory_mb: 1, memory_threshold: 0.5, max_chunks_in_memory: 50, enable_disk_cache: false, disk_cache_dir: tmp.dir }));
    const source = { key: 'm', chunkSize: 1, loadChunk: async (i: number) => [`${i}`.padEnd(100_000, '.')] };
    for (let i = 0; i < 9; i++) await sut.getChunk(source, i);
    await sut.getChunk(source, 8);
    expect(sut.getStats().tiers.memory.bytes).toBeGreaterThan(512 * 1024);
    const r = sut.runMemoryMonitor();
    expect(r.removed).toBe(4);
    expect(sut.getStats().tiers.memory.bytes).toBeLessThanOrEqual(512 * 1024);
    expect(r.rssMb).toBeGreaterThan(10);
    expect((await sut.getChunk(source, 8)).tier).toBe('memory'); // the one read twice stays
    await sut.close();
    tmp.cleanup();
  });
});
