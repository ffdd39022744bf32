import type { AppConfig } from '../config/app-config.js';
import { MB } from '../config/units.js';

/** Data size categories (by the size of the whole data set). */
export enum DataSize {
  SMALL = 'small',
  MEDIUM = 'medium',
  LARGE = 'large',
  HUGE = 'huge',
}

/** The five loading strategies. */
export enum LoadStrategy {
  IMMEDIATE = 'immediate',
  STREAMING = 'streaming',
  PAGINATED = 'paginated',
  BACKGROUND = 'background',
  ON_DEMAND = 'on_demand',
}

/** How chunks are compressed in the disk tier (zstd is not in Node 20's zlib). */
export type CompressionType = 'gzip' | 'brotli' | 'none';

/** `ChunkConfig`: how data is cut into chunks and held. */
export interface ChunkConfig {
  /** Items per chunk. */
  chunk_size: number;
  /** Upper bound on chunks held in the memory tier. */
  max_chunks_in_memory: number;
  /** Chunks loaded ahead of the consumer while streaming or paging. */
  prefetch_chunks: number;
  /** Serialized chunks larger than this (bytes) are compressed in the disk tier. */
  compression_threshold: number;
  compression_type: CompressionType;
}

/** `LargeDataConfig`: the loader's whole configuration, scheduling and disk bounds included. */
export interface LargeDataConfig {
  data_size: DataSize;
  chunk_config: ChunkConfig;
  /** Byte budget of the memory tier (MB). */
  max_memory_mb: number;
  /** Fraction of `max_memory_mb` past which the access-count cleanup runs. */
  memory_threshold: number;
  enable_disk_cache: boolean;
  disk_cache_dir: string;
  /** Byte bound of the disk tier (MB). */
  disk_cache_max_mb: number;
  /** `false` turns both tiers off: every read goes to the source (still coalesced). */
  enable_caching: boolean;
  /** Entry bound of the disk tier (the memory tier's is `max_chunks_in_memory`). */
  cache_size: number;
  /** Seconds a cached chunk stays fresh, in both tiers. */
  cache_ttl: number;
  /** Seconds one source attempt may take. */
  load_timeout: number;
  /** Extra attempts after a failed or timed-out source load. */
  retry_attempts: number;
  memory_monitor_interval_ms: number;
  disk_sweep_interval_ms: number;
  prefetch_interval_ms: number;
}

interface Profile {
  chunk_size: number;
  max_chunks_in_memory: number;
  /** Disk cache per profile: optional (off by default), recommended (on), required (forced on). */
  disk_cache: 'optional' | 'recommended' | 'required';
  max_memory_mb: number;
}

/** The configuration of each `DataSize` profile. */
export const DATA_SIZE_PROFILES: Readonly<Record<DataSize, Readonly<Profile>>> = Object.freeze({
  [DataSize.SMALL]: { chunk_size: 100, max_chunks_in_memory: 50, disk_cache: 'optional', max_memory_mb: 512 },
  [DataSize.MEDIUM]: { chunk_size: 1000, max_chunks_in_memory: 20, disk_cache: 'recommended', max_memory_mb: 1024 },
  [DataSize.LARGE]: { chunk_size: 5000, max_chunks_in_memory: 10, disk_cache: 'required', max_memory_mb: 2048 },
  [DataSize.HUGE]: { chunk_size: 10000, max_chunks_in_memory: 5, disk_cache: 'required', max_memory_mb: 4096 },
});

/** The profile for an estimated data size: < 1 MB, < 10 MB, < 100 MB, more. */
export function dataSizeFor(estimatedBytes: number): DataSize {
  if (estimatedBytes < MB) return DataSize.SMALL;
  if (estimatedBytes < 10 * MB) return DataSize.MEDIUM;
  if (estimatedBytes < 100 * MB) return DataSize.LARGE;
  return DataSize.HUGE;
}

/**
 * The options of `LazyLoaderModule.forRoot()` and `resolveLoaderConfig()`: a profile plus any
 * field overridden, flat, as in `{ dataSize: DataSize.LARGE, enable_disk_cache: true }`.
 */
export type LazyLoaderOptions = {
  dataSize?: DataSize | `${DataSize}`;
  /** Picks the profile from the data set's estimated size when `dataSize` is not given. */
  estimatedBytes?: number;
} & Partial<ChunkConfig> &
  Partial<Omit<LargeDataConfig, 'data_size' | 'chunk_config'>>;

const DEFAULTS = {
  prefetch_chunks: 3,
  compression_threshold: 1024,
  compression_type: 'gzip' as CompressionType,
  memory_threshold: 0.75,
  disk_cache_dir: './data/cache',
  disk_cache_max_mb: 1024,
  enable_caching: true,
  cache_size: 1000,
  cache_ttl: 3600,
  load_timeout: 30,
  retry_attempts: 3,
  memory_monitor_interval_ms: 30_000,
  disk_sweep_interval_ms: 300_000,
  prefetch_interval_ms: 10_000,
};

function positive(name: string, v: number, integer = true): void {
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new RangeError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
  }
}

/**
 * Builds a full, checked configuration: the profile's table values, then the given overrides.
 * A `required` disk cache cannot be turned off.
 * @throws RangeError naming the first invalid field.
 */
export function resolveLoaderConfig(options: LazyLoaderOptions = {}): LargeDataConfig {
  const size = (options.dataSize ??
    (options.estimatedBytes !== undefined ? dataSizeFor(options.estimatedBytes) : DataSize.MEDIUM)) as DataSize;
  const profile = DATA_SIZE_PROFILES[size];
  if (!profile) throw new RangeError(`unknown dataSize ${String(options.dataSize)}`);
  const pick = <K extends keyof typeof DEFAULTS>(k: K): (typeof DEFAULTS)[K] =>
    (options[k] as (typeof DEFAULTS)[K] | undefined) ?? DEFAULTS[k];
  const enableDisk =
    profile.disk_cache === 'required' ? true : (options.enable_disk_cache ?? profile.disk_cache === 'recommended');
  const config: LargeDataConfig = {
    data_size: size,
    chunk_config: {
      chunk_size: options.chunk_size ?? profile.chunk_size,
      max_chunks_in_memory: options.max_chunks_in_memory ?? profile.max_chunks_in_memory,
      prefetch_chunks: pick('prefetch_chunks'),
      compression_threshold: pick('compression_threshold'),
      compression_type: pick('compression_type'),
    },
    max_memory_mb: options.max_memory_mb ?? profile.max_memory_mb,
    memory_threshold: pick('memory_threshold'),
    enable_disk_cache: enableDisk,
    disk_cache_dir: pick('disk_cache_dir'),
    disk_cache_max_mb: pick('disk_cache_max_mb'),
    enable_caching: pick('enable_caching'),
    cache_size: pick('cache_size'),
    cache_ttl: pick('cache_ttl'),
    load_timeout: pick('load_timeout'),
    retry_attempts: pick('retry_attempts'),
    memory_monitor_interval_ms: pick('memory_monitor_interval_ms'),
    disk_sweep_interval_ms: pick('disk_sweep_interval_ms'),
    prefetch_interval_ms: pick('prefetch_interval_ms'),
  };
  const c = config.chunk_config;
  positive('chunk_size', c.chunk_size);
  positive('max_chunks_in_memory', c.max_chunks_in_memory);
  if (!Number.isInteger(c.prefetch_chunks) || c.prefetch_chunks < 0) throw new RangeError('prefetch_chunks must be ≥ 0');
  if (!(c.compression_threshold >= 0)) throw new RangeError('compression_threshold must be ≥ 0');
  if (!['gzip', 'brotli', 'none'].includes(c.compression_type)) throw new RangeError('compression_type must be gzip, brotli or none');
  positive('max_memory_mb', config.max_memory_mb, false);
  if (!(config.memory_threshold > 0 && config.memory_threshold <= 1)) throw new RangeError('memory_threshold must be in (0, 1]');
  positive('disk_cache_max_mb', config.disk_cache_max_mb, false);
  positive('cache_size', config.cache_size);
  positive('cache_ttl', config.cache_ttl, false);
  positive('load_timeout', config.load_timeout, false);
  if (!Number.isInteger(config.retry_attempts) || config.retry_attempts < 0) throw new RangeError('retry_attempts must be ≥ 0');
  positive('memory_monitor_interval_ms', config.memory_monitor_interval_ms);
  positive('disk_sweep_interval_ms', config.disk_sweep_interval_ms);
  positive('prefetch_interval_ms', config.prefetch_interval_ms);
  return Object.freeze({ ...config, chunk_config: Object.freeze(c) });
}

/** The environment's settings (`AppConfig.lazyLoader`) as loader options; unset fields fall to the profile. */
export function optionsFromEnv(env: AppConfig['lazyLoader']): LazyLoaderOptions {
  return {
    dataSize: env.dataSize,
    chunk_size: env.chunkSize,
    max_chunks_in_memory: env.maxChunksInMemory,
    prefetch_chunks: env.prefetchChunks,
    compression_threshold: env.compressionThreshold,
    compression_type: env.compressionType,
    max_memory_mb: env.maxMemoryMb,
    memory_threshold: env.memoryThreshold,
    enable_disk_cache: env.enableDiskCache,
    disk_cache_dir: env.diskCacheDir,
    disk_cache_max_mb: env.diskCacheMaxMb,
    enable_caching: env.enableCaching,
    cache_size: env.cacheSize,
    cache_ttl: env.cacheTtlSeconds,
    load_timeout: env.loadTimeoutSeconds,
    retry_attempts: env.retryAttempts,
    memory_monitor_interval_ms: env.memoryMonitorIntervalMs,
    disk_sweep_interval_ms: env.diskSweepIntervalMs,
    prefetch_interval_ms: env.prefetchIntervalMs,
  };
}
