import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  MinLength,
  Max,
  Min,
} from 'class-validator';
import { EnvBoolean, EnvNumber } from './env.decorators.js';
import { MB } from './units.js';
import { DEFAULT_HASHTAG_BLOCKLIST, DEFAULT_HASHTAG_LIMIT, HASHTAG_LIMIT_MAX } from './hashtag-rules.js';

/**
 * Every environment variable the service reads, with its default. `.env.example` mirrors this
 * class line for line; `loadConfig()` validates it once at boot and names every bad variable.
 * Lazy-loader fields left unset come from the chosen `LAZY_DATA_SIZE` profile.
 */
export class EnvironmentVariables {
  // --- server ---
  @IsIn(['development', 'production', 'test'])
  NODE_ENV = 'development';

  @IsString()
  HOST = '0.0.0.0';

  @EnvNumber() @IsInt() @Min(0) @Max(65535)
  PORT = 3000;

  /** Where clients reach the service (the OpenAPI document's `servers`); defaults to http://localhost:PORT. */
  @IsOptional() @Matches(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { message: 'PUBLIC_URL must be an http(s) URL' })
  PUBLIC_URL?: string;

  @IsString()
  DATA_DIR = './data';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @EnvNumber() @IsInt() @Min(1024) @Max(100 * MB)
  BODY_LIMIT_BYTES = MB;

  @EnvNumber() @IsInt() @Min(1000) @Max(600_000)
  HEADERS_TIMEOUT_MS = 15_000;

  @EnvNumber() @IsInt() @Min(1000) @Max(3_600_000)
  REQUEST_TIMEOUT_MS = 120_000;

  @EnvNumber() @IsInt() @Min(0) @Max(600_000)
  KEEP_ALIVE_TIMEOUT_MS = 5_000;

  // --- shutdown ---
  @EnvNumber() @IsInt() @Min(0) @Max(60_000)
  SHUTDOWN_DELAY_MS = 5_000;

  @EnvNumber() @IsInt() @Min(1000) @Max(120_000)
  SHUTDOWN_GRACE_MS = 25_000;

  // --- storage ---
  @IsOptional() @Matches(/^(postgres|postgresql|sqlite):/, {
    message: 'DATABASE_URL must start with postgres://, postgresql:// or sqlite:',
  })
  DATABASE_URL?: string;

  /** PostgreSQL: one connection attempt that takes longer fails, and the request that needed it answers 503. */
  @EnvNumber() @IsInt() @Min(100) @Max(60_000)
  DATABASE_CONNECT_TIMEOUT_MS = 3_000;

  /**
   * The one Redis every replica shares: the keyed cache's shared tier, the rate limiter's buckets,
   * idempotency claims and batch job queues. Unset: each process keeps that state for itself.
   */
  @IsOptional() @Matches(/^rediss?:\/\//, {
    message: 'REDIS_URL must start with redis:// or rediss://',
  })
  REDIS_URL?: string;

  /** Deprecated alias of REDIS_URL (read only when REDIS_URL is unset; a boot warning names it). */
  @IsOptional() @Matches(/^rediss?:\/\//, {
    message: 'CACHE_REDIS_URL must start with redis:// or rediss://',
  })
  CACHE_REDIS_URL?: string;

  /** Put before every key this service writes to Redis, so services (or test runs) can share one. */
  @Matches(/^[\x21-\x7e]{1,64}$/, { message: 'REDIS_KEY_PREFIX must be 1-64 visible ASCII characters' })
  REDIS_KEY_PREFIX = 'captions:';

  /** A Redis command that has no answer by then fails (a cache miss, an open rate limit, a 503 claim): Redis never hangs a request. */
  @EnvNumber() @IsInt() @Min(10) @Max(60_000)
  REDIS_COMMAND_TIMEOUT_MS = 500;

  /** How long one connection attempt may take; the client keeps trying in the background. */
  @EnvNumber() @IsInt() @Min(100) @Max(60_000)
  REDIS_CONNECT_TIMEOUT_MS = 2_000;

  // --- lazy loader (DataSize profile, ChunkConfig and LargeDataConfig): also the defaults and
  // ranges of the options of `resolveLoaderConfig()` and `LazyLoaderModule.forRoot()` ---
  @IsIn(['small', 'medium', 'large', 'huge'])
  LAZY_DATA_SIZE = 'medium';

  @EnvNumber() @IsOptional() @IsInt() @Min(1) @Max(1_000_000)
  LAZY_CHUNK_SIZE?: number;

  @EnvNumber() @IsOptional() @IsInt() @Min(1) @Max(100_000)
  LAZY_MAX_CHUNKS_IN_MEMORY?: number;

  @EnvNumber() @IsInt() @Min(0) @Max(64)
  LAZY_PREFETCH_CHUNKS = 3;

  @EnvNumber() @IsInt() @Min(0)
  LAZY_COMPRESSION_THRESHOLD = 1024;

  /**
   * How disk entries above `LAZY_COMPRESSION_THRESHOLD` are compressed. `none` by default: a disk
   * hit then costs its decode alone (inflating doubled it, measured on 1,000-row chunks), and at
   * the default bounds the entry count (`LAZY_CACHE_SIZE`) binds before the bytes do, so
   * compression would buy no more entries. gzip or brotli hold about 8× more per MB of disk.
   */
  @IsIn(['gzip', 'brotli', 'none'])
  LAZY_COMPRESSION_TYPE = 'none';

  @EnvNumber() @IsOptional() @IsInt() @Min(1) @Max(1_048_576)
  LAZY_MAX_MEMORY_MB?: number;

  @EnvNumber() @IsNumber() @Min(0.05) @Max(1)
  LAZY_MEMORY_THRESHOLD = 0.75;

  @EnvBoolean() @IsOptional() @IsBoolean()
  LAZY_ENABLE_DISK_CACHE?: boolean;

  /** Relative to `DATA_DIR` unless absolute. */
  @IsString() @MinLength(1)
  LAZY_DISK_CACHE_DIR = 'cache';

  @EnvNumber() @IsInt() @Min(1)
  LAZY_DISK_CACHE_MAX_MB = 1024;

  @EnvBoolean() @IsBoolean()
  LAZY_ENABLE_CACHING = true;

  @EnvNumber() @IsInt() @Min(1) @Max(10_000_000)
  LAZY_CACHE_SIZE = 1000;

  @EnvNumber() @IsInt() @Min(1)
  LAZY_CACHE_TTL = 3600;

  @EnvNumber() @IsNumber() @Min(0.001) @Max(3600)
  LAZY_LOAD_TIMEOUT = 30;

  @EnvNumber() @IsInt() @Min(0) @Max(10)
  LAZY_RETRY_ATTEMPTS = 3;

  @EnvNumber() @IsInt() @Min(100)
  LAZY_MEMORY_MONITOR_INTERVAL_MS = 30_000;

  @EnvNumber() @IsInt() @Min(1000)
  LAZY_DISK_SWEEP_INTERVAL_MS = 300_000;

  @EnvNumber() @IsInt() @Min(100)
  LAZY_PREFETCH_INTERVAL_MS = 10_000;

  // --- captions (platform rules) ---
  /** Most hashtags a request may ask for (`hashtag_count`): Instagram allows five on a post or reel. */
  @EnvNumber() @IsInt() @Min(1) @Max(HASHTAG_LIMIT_MAX)
  HASHTAG_LIMIT = DEFAULT_HASHTAG_LIMIT;

  /** Tags the engine never emits: comma-separated, any case, `#` optional; `none` for no blocklist. */
  @IsString()
  HASHTAG_BLOCKLIST = DEFAULT_HASHTAG_BLOCKLIST.join(',');

  // --- caption engine (offline drafting threads) ---
  /**
   * Most worker threads drafting offline captions at once; 0 (the default, opt-in threads) drafts on
   * the event loop. Drafts wait for a thread in arrival order, up to `CAPTION_QUEUE_MS` of work.
   */
  @EnvNumber() @IsInt() @Min(0) @Max(64)
  CAPTION_WORKERS = 0;

  /** A drafting thread idle this long stops (none run at rest; the next draft starts one again). */
  @EnvNumber() @IsInt() @Min(100) @Max(3_600_000)
  CAPTION_WORKER_IDLE_MS = 60_000;

  /**
   * Most drafting work (milliseconds at the threads' measured speed) that waits for the threads;
   * past it, a new draft is made on the event loop. 0: on a thread only when one is free. A second
   * of bursts waits for the threads: drafts the event loop makes slow every read it serves.
   */
  @EnvNumber() @IsInt() @Min(0) @Max(60_000)
  CAPTION_QUEUE_MS = 1000;

  // --- caption engine (LLM) ---
  /** Which engine writes captions: `template` (offline), `llm`, or `auto` (the LLM when `LLM_BASE_URL` is set, else offline). */
  @IsIn(['template', 'llm', 'auto'])
  CAPTION_ENGINE = 'auto';

  /** An OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI v1, Ollama, vLLM, llama.cpp, LM Studio); unset: no LLM. */
  @IsOptional() @Matches(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { message: 'LLM_BASE_URL must be an http(s) URL' })
  LLM_BASE_URL?: string;

  @IsOptional() @IsString()
  LLM_API_KEY?: string;

  /** The model to ask (required with `LLM_BASE_URL`). */
  @IsOptional() @IsString() @MinLength(1)
  LLM_MODEL?: string;

  /** One HTTP attempt, and the longest silence inside a streamed answer. */
  @EnvNumber() @IsInt() @Min(100) @Max(600_000)
  LLM_TIMEOUT_MS = 15_000;

  /** Everything one draft may take (attempts, backoff and the one redraft) before the offline engine serves. */
  @EnvNumber() @IsInt() @Min(100) @Max(3_600_000)
  LLM_TOTAL_TIMEOUT_MS = 25_000;

  /** Retries of an attempt answered 408/409/429/5xx or lost on the network, with backoff. */
  @EnvNumber() @IsInt() @Min(0) @Max(10)
  LLM_MAX_RETRIES = 2;

  /** Ask for the answer as SSE chunks (a stall is then noticed within `LLM_TIMEOUT_MS`). */
  @EnvBoolean() @IsBoolean()
  LLM_STREAM = true;

  /** `json_schema` (structured output, falling back to `json_object` when the server refuses it) or `json_object`. */
  @IsIn(['json_schema', 'json_object'])
  LLM_RESPONSE_FORMAT = 'json_schema';

  @EnvNumber() @IsNumber() @Min(0) @Max(2)
  LLM_TEMPERATURE = 0.8;

  /** Consecutive failed drafts that open the circuit breaker (requests then go straight to the offline engine). */
  @EnvNumber() @IsInt() @Min(1) @Max(1000)
  LLM_BREAKER_THRESHOLD = 5;

  /** How long the breaker stays open before one request tries the model again. */
  @EnvNumber() @IsInt() @Min(100) @Max(3_600_000)
  LLM_BREAKER_COOLDOWN_MS = 30_000;

  // --- history ---
  @EnvNumber() @IsInt() @Min(1000) @Max(1_000_000_000_000)
  HISTORY_MAX_OFFSET = 100_000;

  @EnvNumber() @IsInt() @Min(0) @Max(1000)
  HISTORY_FRESHNESS_MS = 250;

  @EnvNumber() @IsInt() @Min(1) @Max(1_048_576)
  SQLITE_WAL_LIMIT_MB = 64;

  @EnvNumber() @IsInt() @Min(100) @Max(86_400_000)
  SQLITE_CHECKPOINT_INTERVAL_MS = 60_000;

  // --- history export ---
  @EnvNumber() @IsInt() @Min(1) @Max(1000)
  EXPORT_MAX_CONCURRENT = 4;

  @EnvNumber() @IsInt() @Min(1) @Max(1000)
  EXPORT_MAX_PER_CLIENT = 2;

  @EnvNumber() @IsInt() @Min(100) @Max(3_600_000)
  EXPORT_IDLE_TIMEOUT_MS = 30_000;

  /** Over each EXPORT_IDLE_TIMEOUT_MS window in which a stream waited for its client, the client must take this many bytes a second; 0: no minimum. */
  @EnvNumber() @IsInt() @Min(0) @Max(100 * MB)
  EXPORT_MIN_BYTES_PER_SECOND = 4096;

  @EnvNumber() @IsInt() @Min(100) @Max(3_600_000)
  EXPORT_STATEMENT_TIMEOUT_MS = 30_000;

  // --- batch ---
  @EnvNumber() @IsInt() @Min(100) @Max(100_000)
  BATCH_MAX_REQUESTS = 1000;

  @EnvNumber() @IsInt() @Min(100) @Max(10_000_000)
  BATCH_MAX_NDJSON_LINES = 100_000;

  /**
   * 64 MiB: the default 100,000 lines at about 670 bytes each (a caption request line is
   * typically 150–500), while one upload can cost at most this much decompression and parsing.
   */
  @EnvNumber() @IsInt() @Min(1024) @Max(16 * 1024 * MB)
  BATCH_NDJSON_MAX_BYTES = 64 * MB;

  /** Brotli at its highest quality packs a catalogue of distinct requests about 80:1; a bomb packs millions to one. */
  @EnvNumber() @IsInt() @Min(2) @Max(1_000_000)
  BATCH_NDJSON_MAX_RATIO = 100;

  @EnvNumber() @IsInt() @Min(1)
  BATCH_IDEMPOTENCY_TTL_S = 86_400;

  @EnvNumber() @IsInt() @Min(1) @Max(1_048_576)
  BATCH_IDEMPOTENCY_MAX_MB = 64;

  /** How long a running batch holds its Idempotency-Key without renewing it (renewed every third of it). */
  @EnvNumber() @IsInt() @Min(500) @Max(600_000)
  BATCH_IDEMPOTENCY_LEASE_MS = 5_000;

  @EnvNumber() @IsInt() @Min(1) @Max(1_048_576)
  BATCH_IDEMPOTENCY_MAX_RECORD_KB = 4096;

  @EnvNumber() @IsInt() @Min(0) @Max(10)
  BATCH_MAX_REGENERATIONS = 2;

  // --- batch jobs ---
  /** Most items of one `POST /batches` (lines of an upload, blank ones included). */
  @EnvNumber() @IsInt() @Min(1) @Max(1_000_000)
  BATCH_JOB_MAX_ITEMS = 100_000;

  /** Seconds a batch is kept after it was created (29 days); then it and its results are deleted. */
  @EnvNumber() @IsInt() @Min(60) @Max(366 * 86_400)
  BATCH_JOB_RETENTION = 29 * 86_400;

  /** Seconds a batch has to end (`expires_at`); items not ended by then end `expired`. */
  @EnvNumber() @IsInt() @Min(10) @Max(30 * 86_400)
  BATCH_JOB_COMPLETION_WINDOW_S = 86_400;

  /** Batch job items drafted at once by one process. */
  @EnvNumber() @IsInt() @Min(1) @Max(256)
  BATCH_JOB_CONCURRENCY = 4;

  /** How often (ms) the reconciler expires overdue batches, deletes old ones and re-queues stalled ones. */
  @EnvNumber() @IsInt() @Min(100) @Max(3_600_000)
  BATCH_JOB_RECONCILE_INTERVAL_MS = 30_000;

  // --- security ---
  @IsOptional() @IsString()
  API_KEYS?: string;

  @EnvBoolean() @IsBoolean()
  ALLOW_ANONYMOUS = false;

  @IsOptional() @IsString()
  CORS_ORIGINS?: string;

  @EnvNumber() @IsInt() @Min(1000)
  RATE_LIMIT_WINDOW_MS = 60_000;

  @EnvNumber() @IsInt() @Min(0)
  RATE_LIMIT_MAX = 6000;

  @EnvNumber() @IsInt() @Min(0) @Max(100_000)
  RATE_LIMIT_MAX_CONCURRENT = 32;

  @EnvNumber() @IsInt() @Min(0) @Max(1_000_000)
  RATE_LIMIT_AUTH_FAILURES = 10;

  @IsOptional() @IsString()
  TRUST_PROXY?: string;

  // --- monitoring ---
  @IsOptional() @IsString() @MinLength(16)
  METRICS_TOKEN?: string;

  @EnvNumber() @IsOptional() @IsInt() @Min(1) @Max(65535)
  METRICS_PORT?: number;

  @EnvBoolean() @IsOptional() @IsBoolean()
  SWAGGER_ENABLED?: boolean;

  // --- browser client ---
  /** The web client at `/` (static files, no build step); `false` for an API-only deployment. */
  @EnvBoolean() @IsBoolean()
  UI_ENABLED = true;
}
