import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/app-config.js';
import { DataSize, dataSizeFor, optionsFromEnv, resolveLoaderConfig } from './loader-config.js';

describe(resolveLoaderConfig.name, () => {
  it.each([
    [DataSize.SMALL, 100, 50, false, 512],
    [DataSize.MEDIUM, 1000, 20, true, 1024],
    [DataSize.LARGE, 5000, 10, true, 2048],
    [DataSize.HUGE, 10000, 5, true, 4096],
  ])('applies the profile table for %s', (dataSize, chunk, maxChunks, disk, memoryMb) => {
    const sut = resolveLoaderConfig({ dataSize });
    expect([sut.chunk_config.chunk_size, sut.chunk_config.max_chunks_in_memory, sut.enable_disk_cache, sut.max_memory_mb]).toEqual([
      chunk, maxChunks, disk, memoryMb,
    ]);
  });

  it('is a profile plus overrides', () => {
    const sut = resolveLoaderConfig({ dataSize: DataSize.HUGE, max_memory_mb: 4096, prefetch_chunks: 5, compression_type: 'brotli' });
    expect(sut).toMatchObject({ data_size: 'huge', max_memory_mb: 4096, chunk_config: { chunk_size: 10000, prefetch_chunks: 5, compression_type: 'brotli' } });
    expect(resolveLoaderConfig({ dataSize: DataSize.SMALL, enable_disk_cache: true }).enable_disk_cache).toBe(true);
  });

  it('picks the profile from an estimated data size when none is named', () => {
    expect(resolveLoaderConfig({ estimatedBytes: 50 * 1024 * 1024 }).data_size).toBe(DataSize.LARGE);
    expect(resolveLoaderConfig({ estimatedBytes: 50 * 1024 * 1024, dataSize: DataSize.SMALL }).data_size).toBe(DataSize.SMALL);
  });

  it('keeps a required disk cache on', () => {
    expect(resolveLoaderConfig({ dataSize: DataSize.LARGE, enable_disk_cache: false }).enable_disk_cache).toBe(true);
    expect(resolveLoaderConfig({ dataSize: DataSize.MEDIUM, enable_disk_cache: false }).enable_disk_cache).toBe(false);
  });

  it('names the field that cannot work', () => {
    expect(() => resolveLoaderConfig({ chunk_size: 0 })).toThrow(/chunk_size/);
    expect(() => resolveLoaderConfig({ memory_threshold: 1.5 })).toThrow(/memory_threshold/);
    expect(() => resolveLoaderConfig({ load_timeout: -1 })).toThrow(/load_timeout/);
    expect(() => resolveLoaderConfig({ retry_attempts: 1.5 })).toThrow(/retry_attempts/);
  });

  it('takes its defaults from the environment schema: no options is the environment with nothing set', () => {
    expect(resolveLoaderConfig()).toEqual(resolveLoaderConfig(optionsFromEnv(loadConfig({}).lazyLoader)));
    expect(resolveLoaderConfig()).toMatchObject({ data_size: 'medium', cache_ttl: 3600, chunk_config: { prefetch_chunks: 3 } });
  });

  it('checks options against the environment schema\'s ranges, naming each bad one with its variable', () => {
    expect(() => loadConfig({ LAZY_PREFETCH_CHUNKS: '65' })).toThrow(/LAZY_PREFETCH_CHUNKS/);
    expect(() => resolveLoaderConfig({ prefetch_chunks: 65 })).toThrow(/prefetch_chunks=65 \(LAZY_PREFETCH_CHUNKS\)/);
    expect(() => resolveLoaderConfig({ chunk_size: 2_000_000, cache_size: 0 })).toThrow(/chunk_size=2000000.*cache_size=0/);
    expect(() => resolveLoaderConfig({ dataSize: 'tiny' as DataSize })).toThrow(/dataSize="tiny" \(LAZY_DATA_SIZE\)/);
    expect(() => resolveLoaderConfig({ enable_caching: 'no' as unknown as boolean })).toThrow(/enable_caching/);
  });
});

describe(dataSizeFor.name, () => {
  it.each([
    [0, DataSize.SMALL],
    [1024 * 1024 - 1, DataSize.SMALL],
    [1024 * 1024, DataSize.MEDIUM],
    [10 * 1024 * 1024, DataSize.LARGE],
    [100 * 1024 * 1024 - 1, DataSize.LARGE],
    [100 * 1024 * 1024, DataSize.HUGE],
  ])('%i bytes → %s', (bytes, size) => expect(dataSizeFor(bytes)).toBe(size));
});
