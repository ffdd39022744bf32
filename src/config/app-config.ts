import { resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { EnvironmentVariables } from './env.schema.js';
import { parseHashtagBlocklist } from './hashtag-rules.js';
import { parseTrustProxy, type TrustProxy } from './trust-proxy.js';
import { MB } from './units.js';

/** Raised at boot when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The typed configuration, built once from the environment. It is also the DI token:
 * inject `AppConfig` anywhere to read it.
 */
export class AppConfig {
  readonly env!: 'development' | 'production' | 'test';
  readonly dataDir!: string;
  readonly logLevel!: string;
  readonly server!: {
    host: string;
    port: number;
    /** Where clients reach the service: the OpenAPI document's server. */
    publicUrl: string;
    bodyLimitBytes: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
  };
  readonly shutdown!: { delayMs: number; graceMs: number };
  /** `sqlite:<file>` or `postgres://…`; SQLite under DATA_DIR by default. */
  readonly databaseUrl!: string;
  /** The shared Redis (`REDIS_URL`); absent: every process keeps its shared state for itself. */
  readonly redis!: {
    url?: string;
    /** Put before every key this service writes (`REDIS_KEY_PREFIX`). */
    keyPrefix: string;
    commandTimeoutMs: number;
    connectTimeoutMs: number;
    /** The URL came from the deprecated `CACHE_REDIS_URL`: a warning says so at boot. */
    fromDeprecatedAlias: boolean;
  };
  /**
   * The DataSize profile plus explicit overrides. Fields that are `undefined` come from
   * the profile when the lazy loader resolves its configuration.
   */
  readonly lazyLoader!: {
    dataSize: 'small' | 'medium' | 'large' | 'huge';
    chunkSize?: number;
    maxChunksInMemory?: number;
    prefetchChunks: number;
    compressionThreshold: number;
    compressionType: 'gzip' | 'brotli' | 'none';
    maxMemoryMb?: number;
    memoryThreshold: number;
    enableDiskCache?: boolean;
    diskCacheDir: string;
    diskCacheMaxMb: number;
    enableCaching: boolean;
    cacheSize: number;
    cacheTtlSeconds: number;
    loadTimeoutSeconds: number;
    retryAttempts: number;
    memoryMonitorIntervalMs: number;
    diskSweepIntervalMs: number;
    prefetchIntervalMs: number;
  };
  /** Platform rules every caption obeys, whichever engine writes it. */
  readonly captions!: {
    /** Most hashtags a request may ask for; more is a 422 naming `HASHTAG_LIMIT`. */
    hashtagLimit: number;
    /** Tags never emitted, lower case with their `#` (empty: none blocked). */
    hashtagBlocklist: readonly string[];
    /** Most threads drafting offline captions (0: on the event loop), how long an idle one lives, and the work that may wait for them. */
    workers: number;
    workerIdleMs: number;
    /** `CAPTION_QUEUE_MS`. */
    queueBudgetMs: number;
  };
  /** The LLM caption engine and how the engine is chosen (`llm.baseUrl` unset: no LLM). */
  readonly llm!: {
    engine: 'template' | 'llm' | 'auto';
    baseUrl?: string;
    apiKey?: string;
    model?: string;
    timeoutMs: number;
    totalTimeoutMs: number;
    maxRetries: number;
    stream: boolean;
    responseFormat: 'json_schema' | 'json_object';
    temperature: number;
    breakerThreshold: number;
    breakerCooldownMs: number;
  };
  readonly history!: {
    /** Deepest row a page by number may reach (`page × page_size`); deeper reads go by cursor. */
    maxOffset: number;
    /**
     * How long this instance trusts a data version it read from the database before reading it
     * again: a write on another instance shows here within this bound (0: read on every request).
     */
    freshnessMs: number;
    /** PostgreSQL: how long one connection attempt may take before the request that needed it gets a 503. */
    connectTimeoutMs: number;
    /** SQLite: the size the write-ahead log is cut back to once checkpointed (`journal_size_limit`). */
    sqliteWalLimitBytes: number;
    /** SQLite: how often the write-ahead log is checkpointed, and truncated when no export reads. */
    sqliteCheckpointIntervalMs: number;
  };
  /** `GET /caption-history/export`: how many may run, and for how long a client may stall one. */
  readonly exports!: {
    maxConcurrent: number;
    maxPerClient: number;
    idleTimeoutMs: number;
    /** Least rate a client waited on must read at, judged over each `idleTimeoutMs` window (0: none). */
    minBytesPerSecond: number;
    statementTimeoutMs: number;
  };
  readonly batch!: {
    maxRequests: number;
    /** Most lines of an NDJSON upload, blank ones included. */
    maxNdjsonLines: number;
    /** Most bytes of an NDJSON upload once decoded. */
    ndjsonMaxBytes: number;
    /** Most decoded bytes per compressed byte of an NDJSON upload (past its first MiB). */
    ndjsonMaxRatio: number;
    idempotencyTtlSeconds: number;
    /** Byte budget of the idempotency records. */
    idempotencyMaxBytes: number;
    /** A running batch's hold on its key: renewed while it runs, so a dead instance's key is free within it. */
    idempotencyLeaseMs: number;
    /** The most one record may take; results beyond it are not kept (only the fingerprint is). */
    idempotencyMaxRecordBytes: number;
    maxRegenerations: number;
  };
  /** Durable batch jobs (`/batches`). */
  readonly jobs!: {
    maxItems: number;
    retentionMs: number;
    completionWindowMs: number;
    concurrency: number;
    reconcileIntervalMs: number;
  };
  readonly monitoring!: {
    /** `/metrics` answers a request bearing this token (or a valid API key). */
    metricsToken?: string;
    /** `/metrics` is served on this port instead of the main one. */
    metricsPort?: number;
    /** Swagger UI at `/docs`: on by default, off in production unless asked for. */
    swaggerEnabled: boolean;
  };
  /** The browser client served at `/`. */
  readonly ui!: {
    enabled: boolean;
  };
  readonly security!: {
    apiKeys: string[];
    /** Production without API keys was asked for explicitly (`ALLOW_ANONYMOUS`). */
    allowAnonymous: boolean;
    corsOrigins: string[];
    rateLimitWindowMs: number;
    /** Units per window: one per caption variation drafted, one for a request that drafts none. */
    rateLimitMax: number;
    rateLimitMaxConcurrent: number;
    rateLimitAuthFailures: number;
    /** Express's `trust proxy`: which hops' `X-Forwarded-For` names the client. */
    trustProxy: TrustProxy;
  };
}

/** Variables whose value may hold a secret: a problem with one names it without its value. */
const SECRET_VARIABLES = new Set(['LLM_API_KEY', 'API_KEYS', 'METRICS_TOKEN', 'DATABASE_URL', 'REDIS_URL', 'CACHE_REDIS_URL']);

function flatten(errors: ValidationError[]): string[] {
  return errors.flatMap((e) => {
    const shown = e.value === undefined ? 'unset' : SECRET_VARIABLES.has(e.property) ? '(hidden)' : JSON.stringify(e.value);
    const rules = Object.values(e.constraints ?? {}).join('; ');
    return [`${e.property}=${shown}: ${rules}`];
  });
}

const splitList = (v?: string) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Rules between variables, checked once each variable is valid on its own. */
function crossChecks(vars: EnvironmentVariables): string[] {
  const problems: string[] = [];
  if (vars.NODE_ENV === 'production' && splitList(vars.API_KEYS).length === 0 && !vars.ALLOW_ANONYMOUS) {
    problems.push(
      'API_KEYS=unset: production needs API keys; set API_KEYS, or ALLOW_ANONYMOUS=true to serve anonymous clients on purpose',
    );
  }
  if (vars.METRICS_PORT !== undefined && vars.METRICS_PORT === vars.PORT) {
    problems.push(`METRICS_PORT=${vars.METRICS_PORT}: must differ from PORT=${vars.PORT}`);
  }
  if (vars.REDIS_URL !== undefined && vars.CACHE_REDIS_URL !== undefined && vars.REDIS_URL !== vars.CACHE_REDIS_URL) {
    problems.push('CACHE_REDIS_URL=(hidden): a deprecated alias of REDIS_URL, set to another value; unset CACHE_REDIS_URL');
  }
  if (vars.BATCH_IDEMPOTENCY_MAX_RECORD_KB > vars.BATCH_IDEMPOTENCY_MAX_MB * 1024) {
    problems.push(
      `BATCH_IDEMPOTENCY_MAX_RECORD_KB=${vars.BATCH_IDEMPOTENCY_MAX_RECORD_KB}: must fit in BATCH_IDEMPOTENCY_MAX_MB=${vars.BATCH_IDEMPOTENCY_MAX_MB} (${vars.BATCH_IDEMPOTENCY_MAX_MB * 1024} KB)`,
    );
  }
  problems.push(...llmCrossChecks(vars));
  return problems;
}

/** The LLM engine's settings fit together and inside the lazy loader's load timeout. */
function llmCrossChecks(vars: EnvironmentVariables): string[] {
  const problems: string[] = [];
  if (vars.LLM_BASE_URL !== undefined && vars.LLM_MODEL === undefined) {
    problems.push('LLM_MODEL=unset: LLM_BASE_URL is set, so name the model to ask (LLM_MODEL)');
  }
  if (vars.CAPTION_ENGINE === 'llm' && vars.LLM_BASE_URL === undefined) {
    problems.push('CAPTION_ENGINE=llm: no LLM is configured; set LLM_BASE_URL and LLM_MODEL, or CAPTION_ENGINE=auto or template');
  }
  if (vars.LLM_TOTAL_TIMEOUT_MS < vars.LLM_TIMEOUT_MS) {
    problems.push(`LLM_TOTAL_TIMEOUT_MS=${vars.LLM_TOTAL_TIMEOUT_MS}: must be at least LLM_TIMEOUT_MS=${vars.LLM_TIMEOUT_MS}`);
  }
  // A draft that outlives the loader's attempt would be abandoned and drafted again by its retry.
  if (vars.LLM_BASE_URL !== undefined && vars.LLM_TOTAL_TIMEOUT_MS >= vars.LAZY_LOAD_TIMEOUT * 1000) {
    problems.push(
      `LLM_TOTAL_TIMEOUT_MS=${vars.LLM_TOTAL_TIMEOUT_MS}: must be below LAZY_LOAD_TIMEOUT=${vars.LAZY_LOAD_TIMEOUT} s, which bounds one draft and its fallback`,
    );
  }
  return problems;
}

/**
 * Validates `env` against {@link EnvironmentVariables} and builds the typed {@link AppConfig}.
 * @throws ConfigError naming every invalid variable (not just the first).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  // Unknown variables (PATH, HOME…) are dropped by `whitelist`; an empty value (`FOO=` in a
  // .env file) means "not set", so the default applies. These options differ from the request
  // validator's on purpose: the environment always holds variables that are not ours (so they are
  // dropped, not refused), and each problem names the bad value (secrets hidden by `flatten`).
  const picked = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const vars = plainToInstance(EnvironmentVariables, picked);
  const errors = validateSync(vars, { whitelist: true, forbidUnknownValues: false });
  const problems = flatten(errors);
  const trustProxy = parseTrustProxy(vars.TRUST_PROXY);
  if ('error' in trustProxy) problems.push(`TRUST_PROXY=${JSON.stringify(vars.TRUST_PROXY)}: ${trustProxy.error}`);
  const blocklist = parseHashtagBlocklist(vars.HASHTAG_BLOCKLIST);
  if ('error' in blocklist) problems.push(`HASHTAG_BLOCKLIST=${JSON.stringify(vars.HASHTAG_BLOCKLIST)}: ${blocklist.error}`);
  if (problems.length > 0) throw new ConfigError(problems);
  const conflicts = crossChecks(vars);
  if (conflicts.length > 0) throw new ConfigError(conflicts);

  const dataDir = resolve(vars.DATA_DIR);
  const config: AppConfig = {
    env: vars.NODE_ENV as AppConfig['env'],
    dataDir,
    logLevel: vars.LOG_LEVEL,
    server: {
      host: vars.HOST,
      port: vars.PORT,
      publicUrl: (vars.PUBLIC_URL ?? `http://localhost:${vars.PORT}`).replace(/\/$/, ''),
      bodyLimitBytes: vars.BODY_LIMIT_BYTES,
      headersTimeoutMs: vars.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: vars.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: vars.KEEP_ALIVE_TIMEOUT_MS,
    },
    shutdown: { delayMs: vars.SHUTDOWN_DELAY_MS, graceMs: vars.SHUTDOWN_GRACE_MS },
    databaseUrl: vars.DATABASE_URL ?? `sqlite:${resolve(dataDir, 'history.sqlite')}`,
    redis: {
      url: vars.REDIS_URL ?? vars.CACHE_REDIS_URL,
      keyPrefix: vars.REDIS_KEY_PREFIX,
      commandTimeoutMs: vars.REDIS_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: vars.REDIS_CONNECT_TIMEOUT_MS,
      fromDeprecatedAlias: vars.REDIS_URL === undefined && vars.CACHE_REDIS_URL !== undefined,
    },
    lazyLoader: {
      dataSize: vars.LAZY_DATA_SIZE as AppConfig['lazyLoader']['dataSize'],
      chunkSize: vars.LAZY_CHUNK_SIZE,
      maxChunksInMemory: vars.LAZY_MAX_CHUNKS_IN_MEMORY,
      prefetchChunks: vars.LAZY_PREFETCH_CHUNKS,
      compressionThreshold: vars.LAZY_COMPRESSION_THRESHOLD,
      compressionType: vars.LAZY_COMPRESSION_TYPE as AppConfig['lazyLoader']['compressionType'],
      maxMemoryMb: vars.LAZY_MAX_MEMORY_MB,
      memoryThreshold: vars.LAZY_MEMORY_THRESHOLD,
      enableDiskCache: vars.LAZY_ENABLE_DISK_CACHE,
      diskCacheDir: resolve(dataDir, vars.LAZY_DISK_CACHE_DIR),
      diskCacheMaxMb: vars.LAZY_DISK_CACHE_MAX_MB,
      enableCaching: vars.LAZY_ENABLE_CACHING,
      cacheSize: vars.LAZY_CACHE_SIZE,
      cacheTtlSeconds: vars.LAZY_CACHE_TTL,
      loadTimeoutSeconds: vars.LAZY_LOAD_TIMEOUT,
      retryAttempts: vars.LAZY_RETRY_ATTEMPTS,
      memoryMonitorIntervalMs: vars.LAZY_MEMORY_MONITOR_INTERVAL_MS,
      diskSweepIntervalMs: vars.LAZY_DISK_SWEEP_INTERVAL_MS,
      prefetchIntervalMs: vars.LAZY_PREFETCH_INTERVAL_MS,
    },
    captions: {
      hashtagLimit: vars.HASHTAG_LIMIT,
      hashtagBlocklist: Object.freeze((blocklist as { value: string[] }).value),
      workers: vars.CAPTION_WORKERS,
      workerIdleMs: vars.CAPTION_WORKER_IDLE_MS,
      queueBudgetMs: vars.CAPTION_QUEUE_MS,
    },
    llm: {
      engine: vars.CAPTION_ENGINE as AppConfig['llm']['engine'],
      baseUrl: vars.LLM_BASE_URL,
      apiKey: vars.LLM_API_KEY,
      model: vars.LLM_MODEL,
      timeoutMs: vars.LLM_TIMEOUT_MS,
      totalTimeoutMs: vars.LLM_TOTAL_TIMEOUT_MS,
      maxRetries: vars.LLM_MAX_RETRIES,
      stream: vars.LLM_STREAM,
      responseFormat: vars.LLM_RESPONSE_FORMAT as AppConfig['llm']['responseFormat'],
      temperature: vars.LLM_TEMPERATURE,
      breakerThreshold: vars.LLM_BREAKER_THRESHOLD,
      breakerCooldownMs: vars.LLM_BREAKER_COOLDOWN_MS,
    },
    history: {
      maxOffset: vars.HISTORY_MAX_OFFSET,
      freshnessMs: vars.HISTORY_FRESHNESS_MS,
      connectTimeoutMs: vars.DATABASE_CONNECT_TIMEOUT_MS,
      sqliteWalLimitBytes: vars.SQLITE_WAL_LIMIT_MB * MB,
      sqliteCheckpointIntervalMs: vars.SQLITE_CHECKPOINT_INTERVAL_MS,
    },
    exports: {
      maxConcurrent: vars.EXPORT_MAX_CONCURRENT,
      maxPerClient: vars.EXPORT_MAX_PER_CLIENT,
      idleTimeoutMs: vars.EXPORT_IDLE_TIMEOUT_MS,
      minBytesPerSecond: vars.EXPORT_MIN_BYTES_PER_SECOND,
      statementTimeoutMs: vars.EXPORT_STATEMENT_TIMEOUT_MS,
    },
    batch: {
      maxRequests: vars.BATCH_MAX_REQUESTS,
      maxNdjsonLines: vars.BATCH_MAX_NDJSON_LINES,
      ndjsonMaxBytes: vars.BATCH_NDJSON_MAX_BYTES,
      ndjsonMaxRatio: vars.BATCH_NDJSON_MAX_RATIO,
      idempotencyTtlSeconds: vars.BATCH_IDEMPOTENCY_TTL_S,
      idempotencyMaxBytes: vars.BATCH_IDEMPOTENCY_MAX_MB * MB,
      idempotencyLeaseMs: vars.BATCH_IDEMPOTENCY_LEASE_MS,
      idempotencyMaxRecordBytes: vars.BATCH_IDEMPOTENCY_MAX_RECORD_KB * 1024,
      maxRegenerations: vars.BATCH_MAX_REGENERATIONS,
    },
    jobs: {
      maxItems: vars.BATCH_JOB_MAX_ITEMS,
      retentionMs: vars.BATCH_JOB_RETENTION * 1000,
      completionWindowMs: vars.BATCH_JOB_COMPLETION_WINDOW_S * 1000,
      concurrency: vars.BATCH_JOB_CONCURRENCY,
      reconcileIntervalMs: vars.BATCH_JOB_RECONCILE_INTERVAL_MS,
    },
    monitoring: {
      metricsToken: vars.METRICS_TOKEN,
      metricsPort: vars.METRICS_PORT,
      swaggerEnabled: vars.SWAGGER_ENABLED ?? vars.NODE_ENV !== 'production',
    },
    ui: { enabled: vars.UI_ENABLED },
    security: {
      apiKeys: splitList(vars.API_KEYS),
      allowAnonymous: vars.ALLOW_ANONYMOUS,
      corsOrigins: splitList(vars.CORS_ORIGINS),
      rateLimitWindowMs: vars.RATE_LIMIT_WINDOW_MS,
      rateLimitMax: vars.RATE_LIMIT_MAX,
      rateLimitMaxConcurrent: vars.RATE_LIMIT_MAX_CONCURRENT,
      rateLimitAuthFailures: vars.RATE_LIMIT_AUTH_FAILURES,
      trustProxy: (trustProxy as { value: TrustProxy }).value,
    },
  };
  return Object.freeze(config);
}
