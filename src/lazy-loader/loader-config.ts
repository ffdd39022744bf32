import { resolve as resolvePath } from 'node:path';
import { validateSync } from 'class-validator';
import type { AppConfig } from '../config/app-config.js';
import { EnvironmentVariables } from '../config/env.schema.js';
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

/** The option fields that are also environment variables: the option → its variable, and its `AppConfig.lazyLoader` field. */
const FIELDS = {
  chunk_size: ['LAZY_CHUNK_SIZE', 'chunkSize'],
  max_chunks_in_memory: ['LAZY_MAX_CHUNKS_IN_MEMORY', 'maxChunksInMemory'],
  prefetch_chunks: ['LAZY_PREFETCH_CHUNKS', 'prefetchChunks'],
  compression_threshold: ['LAZY_COMPRESSION_THRESHOLD', 'compressionThreshold'],
  compression_type: ['LAZY_COMPRESSION_TYPE', 'compressionType'],
  max_memory_mb: ['LAZY_MAX_MEMORY_MB', 'maxMemoryMb'],
  memory_threshold: ['LAZY_MEMORY_THRESHOLD', 'memoryThreshold'],
  enable_disk_cache: ['LAZY_ENABLE_DISK_CACHE', 'enableDiskCache'],
  disk_cache_dir: ['LAZY_DISK_CACHE_DIR', 'diskCacheDir'],
  disk_cache_max_mb: ['LAZY_DISK_CACHE_MAX_MB', 'diskCacheMaxMb'],
  enable_caching: ['LAZY_ENABLE_CACHING', 'enableCaching'],
  cache_size: ['LAZY_CACHE_SIZE', 'cacheSize'],
  cache_ttl: ['LAZY_CACHE_TTL', 'cacheTtlSeconds'],
  load_timeout: ['LAZY_LOAD_TIMEOUT', 'loadTimeoutSeconds'],
  retry_attempts: ['LAZY_RETRY_ATTEMPTS', 'retryAttempts'],
  memory_monitor_interval_ms: ['LAZY_MEMORY_MONITOR_INTERVAL_MS', 'memoryMonitorIntervalMs'],
  disk_sweep_interval_ms: ['LAZY_DISK_SWEEP_INTERVAL_MS', 'diskSweepIntervalMs'],
  prefetch_interval_ms: ['LAZY_PREFETCH_INTERVAL_MS', 'prefetchIntervalMs'],
} as const satisfies Record<
  Exclude<keyof LazyLoaderOptions, 'dataSize' | 'estimatedBytes'>,
  readonly [keyof EnvironmentVariables, keyof AppConfig['lazyLoader']]
>;
type Field = keyof typeof FIELDS;
const FIELD_NAMES = Object.keys(FIELDS) as Field[];
/** The variable each option is checked as, and back. */
const OPTION_OF = new Map<string, string>([['LAZY_DATA_SIZE', 'dataSize'], ...FIELD_NAMES.map((f) => [FIELDS[f][0], f] as [string, string])]);

/**
 * Builds a full, checked configuration. Each field comes from the given options, else from the
 * `DataSize` profile (chunk size, chunks in memory, memory budget, disk cache), else from the
 * environment schema's default (`EnvironmentVariables`, the one source of defaults); the options
 * are checked against the same schema's ranges, so a value refused as an environment variable is
 * refused here too. A relative `disk_cache_dir` is taken as is (the environment resolves
 * `LAZY_DISK_CACHE_DIR` against `DATA_DIR`; the default is the schema's, under its `DATA_DIR`).
 * A `required` disk cache cannot be turned off.
 * @throws RangeError naming every invalid option, with its variable and the rule it breaks.
 */
export function resolveLoaderConfig(options: LazyLoaderOptions = {}): LargeDataConfig {
  const env = new EnvironmentVariables();
  const defaultDir = resolvePath(env.DATA_DIR, env.LAZY_DISK_CACHE_DIR);
  const set = env as unknown as Record<string, unknown>;
  for (const f of FIELD_NAMES) if (options[f] !== undefined) set[FIELDS[f][0]] = options[f];
  if (options.dataSize !== undefined) env.LAZY_DATA_SIZE = options.dataSize;
  else if (options.estimatedBytes !== undefined) env.LAZY_DATA_SIZE = dataSizeFor(options.estimatedBytes);
  const problems = validateSync(env, { forbidUnknownValues: false })
    .filter((e) => OPTION_OF.has(e.property))
    .map((e) => `${OPTION_OF.get(e.property)}=${JSON.stringify(e.value)} (${e.property}): ${Object.values(e.constraints ?? {}).join('; ')}`);
  if (problems.length > 0) throw new RangeError(`Invalid lazy loader options: ${problems.join(', ')}`);

  const size = env.LAZY_DATA_SIZE as DataSize;
  const profile = DATA_SIZE_PROFILES[size];
  const config: LargeDataConfig = {
    data_size: size,
    chunk_config: Object.freeze({
      chunk_size: env.LAZY_CHUNK_SIZE ?? profile.chunk_size,
      max_chunks_in_memory: env.LAZY_MAX_CHUNKS_IN_MEMORY ?? profile.max_chunks_in_memory,
      prefetch_chunks: env.LAZY_PREFETCH_CHUNKS,
      compression_threshold: env.LAZY_COMPRESSION_THRESHOLD,
      compression_type: env.LAZY_COMPRESSION_TYPE as CompressionType,
    }),
    max_memory_mb: env.LAZY_MAX_MEMORY_MB ?? profile.max_memory_mb,
    memory_threshold: env.LAZY_MEMORY_THRESHOLD,
    enable_disk_cache: profile.disk_cache === 'required' || (env.LAZY_ENABLE_DISK_CACHE ?? profile.disk_cache === 'recommended'),
    disk_cache_dir: options.disk_cache_dir ?? defaultDir,
    disk_cache_max_mb: env.LAZY_DISK_CACHE_MAX_MB,
    enable_caching: env.LAZY_ENABLE_CACHING,
    cache_size: env.LAZY_CACHE_SIZE,
    cache_ttl: env.LAZY_CACHE_TTL,
    load_timeout: env.LAZY_LOAD_TIMEOUT,
    retry_attempts: env.LAZY_RETRY_ATTEMPTS,
    memory_monitor_interval_ms: env.LAZY_MEMORY_MONITOR_INTERVAL_MS,
    disk_sweep_interval_ms: env.LAZY_DISK_SWEEP_INTERVAL_MS,
    prefetch_interval_ms: env.LAZY_PREFETCH_INTERVAL_MS,
  };
  return Object.freeze(config);
}

/** The environment's settings (`AppConfig.lazyLoader`) as loader options; unset fields fall to the profile. */
export function optionsFromEnv(env: AppConfig['lazyLoader']): LazyLoaderOptions {
  const options: LazyLoaderOptions = { dataSize: env.dataSize };
  for (const f of FIELD_NAMES) (options as Record<string, unknown>)[f] = env[FIELDS[f][1]];
  return options;
}
