import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config.js';
import { DEFAULT_HASHTAG_BLOCKLIST } from './hashtag-rules.js';

describe(loadConfig.name, () => {
  it('runs with no configuration at all', () => {
    const sut = loadConfig({});
    expect(sut.server.port).toBe(3000);
    expect(sut.server.bodyLimitBytes).toBe(1024 * 1024);
    expect(sut.dataDir).toMatch(/\/data$/);
    expect(sut.databaseUrl).toBe(`sqlite:${sut.dataDir}/history.sqlite`);
    expect(sut.lazyLoader.diskCacheDir).toBe(`${sut.dataDir}/cache`);
  });

  it('bounds history exports and pages by number out of the box', () => {
    const sut = loadConfig({});
    expect(sut.exports).toEqual({ maxConcurrent: 4, maxPerClient: 2, idleTimeoutMs: 30_000, minBytesPerSecond: 4096, statementTimeoutMs: 30_000 });
    expect(loadConfig({ EXPORT_MIN_BYTES_PER_SECOND: '0' }).exports.minBytesPerSecond).toBe(0);
    expect(() => loadConfig({ EXPORT_MIN_BYTES_PER_SECOND: '-1' })).toThrow(/EXPORT_MIN_BYTES_PER_SECOND/);
    expect(sut.history).toEqual({ maxOffset: 100_000, freshnessMs: 250, connectTimeoutMs: 3_000, sqliteWalLimitBytes: 64 * 1024 * 1024, sqliteCheckpointIntervalMs: 60_000 });
    expect(loadConfig({ HISTORY_FRESHNESS_MS: '0' }).history.freshnessMs).toBe(0);
    expect(loadConfig({ DATABASE_CONNECT_TIMEOUT_MS: '500' }).history.connectTimeoutMs).toBe(500);
    expect(() => loadConfig({ DATABASE_CONNECT_TIMEOUT_MS: '50' })).toThrow(/DATABASE_CONNECT_TIMEOUT_MS/);
    expect(() => loadConfig({ HISTORY_FRESHNESS_MS: '1001' })).toThrow(/HISTORY_FRESHNESS_MS/);
  });

  it('puts everything under DATA_DIR', () => {
    const sut = loadConfig({ DATA_DIR: '/tmp/instance-b' });
    expect(sut.databaseUrl).toBe('sqlite:/tmp/instance-b/history.sqlite');
    expect(sut.lazyLoader.diskCacheDir).toBe('/tmp/instance-b/cache');
  });

  it('reads booleans and numbers from strings', () => {
    const sut = loadConfig({ PORT: '8080', LAZY_ENABLE_CACHING: 'false', LAZY_MEMORY_THRESHOLD: '0.5' });
    expect(sut.server.port).toBe(8080);
    expect(sut.lazyLoader.enableCaching).toBe(false);
    expect(sut.lazyLoader.memoryThreshold).toBe(0.5);
  });

  it('names every bad variable, not just the first', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'eighty', LAZY_COMPRESSION_TYPE: 'zip', LAZY_ENABLE_CACHING: 'maybe' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toContain('PORT');
    expect(message).toContain('LAZY_COMPRESSION_TYPE');
    expect(message).toContain('LAZY_ENABLE_CACHING');
    expect((caught as ConfigError).problems).toHaveLength(3);
  });

  it('refuses production without API keys, naming API_KEYS and ALLOW_ANONYMOUS', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', API_KEYS: ' , ' })).toThrow(/API_KEYS.*ALLOW_ANONYMOUS/);
    expect(loadConfig({ NODE_ENV: 'production', API_KEYS: 'k' }).security.apiKeys).toEqual(['k']);
    expect(loadConfig({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' }).security.allowAnonymous).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development' }).security.apiKeys).toEqual([]);
  });

  it('checks the new limits against each other, naming both variables', () => {
    expect(() => loadConfig({ PORT: '8080', METRICS_PORT: '8080' })).toThrow(/METRICS_PORT=8080: must differ from PORT=8080/);
    expect(() => loadConfig({ BATCH_IDEMPOTENCY_MAX_MB: '1', BATCH_IDEMPOTENCY_MAX_RECORD_KB: '2048' })).toThrow(
      /BATCH_IDEMPOTENCY_MAX_RECORD_KB=2048: must fit in BATCH_IDEMPOTENCY_MAX_MB=1/,
    );
    const sut = loadConfig({});
    expect(sut.batch).toMatchObject({ idempotencyMaxBytes: 64 * 1024 * 1024, idempotencyMaxRecordBytes: 4096 * 1024 });
    expect(sut.security).toMatchObject({ rateLimitMax: 6000, rateLimitMaxConcurrent: 32, rateLimitAuthFailures: 10, trustProxy: false });
  });

  it('turns Swagger UI off in production unless SWAGGER_ENABLED says otherwise', () => {
    expect(loadConfig({}).monitoring.swaggerEnabled).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', API_KEYS: 'k' }).monitoring.swaggerEnabled).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', API_KEYS: 'k', SWAGGER_ENABLED: 'true' }).monitoring.swaggerEnabled).toBe(true);
    expect(loadConfig({ SWAGGER_ENABLED: 'false' }).monitoring.swaggerEnabled).toBe(false);
  });

  it('names a bad secret without printing it', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short-secret' })).toThrow(/METRICS_TOKEN=\(hidden\)/);
    expect(() => loadConfig({ METRICS_TOKEN: 'short-secret' })).not.toThrow(/short-secret/);
  });

  it('caps hashtags at five and blocks the generic tags by default', () => {
    const sut = loadConfig({});
    expect(sut.captions.hashtagLimit).toBe(5);
    expect(sut.captions.hashtagBlocklist).toEqual(DEFAULT_HASHTAG_BLOCKLIST);
    expect(sut.captions.hashtagBlocklist).toEqual(expect.arrayContaining(['#reels', '#explore', '#viral', '#fyp', '#foryou', '#trending', '#instagood', '#tbt']));
    expect(loadConfig({ HASHTAG_BLOCKLIST: '' }).captions.hashtagBlocklist).toEqual(DEFAULT_HASHTAG_BLOCKLIST);
  });

  it('lets HASHTAG_LIMIT go from 1 up to 30, naming it otherwise', () => {
    expect(loadConfig({ HASHTAG_LIMIT: '30' }).captions.hashtagLimit).toBe(30);
    expect(loadConfig({ HASHTAG_LIMIT: '1' }).captions.hashtagLimit).toBe(1);
    for (const bad of ['0', '31', '5.5', 'five']) expect(() => loadConfig({ HASHTAG_LIMIT: bad })).toThrow(/HASHTAG_LIMIT=/);
  });

  it('reads HASHTAG_BLOCKLIST in any case, # optional, or none', () => {
    expect(loadConfig({ HASHTAG_BLOCKLIST: ' #FYP, viral ,#Viral,,Ñandú_2 ' }).captions.hashtagBlocklist).toEqual(['#fyp', '#viral', '#ñandú_2']);
    expect(loadConfig({ HASHTAG_BLOCKLIST: 'None' }).captions.hashtagBlocklist).toEqual([]);
    expect(() => loadConfig({ HASHTAG_BLOCKLIST: '#for you, 2024, ok' })).toThrow(/HASHTAG_BLOCKLIST=.*"#for you", "2024"/);
    expect(() => loadConfig({ HASHTAG_BLOCKLIST: ' , ' })).toThrow(/HASHTAG_BLOCKLIST=" , ": lists no hashtag/);
    expect(() => loadConfig({ HASHTAG_BLOCKLIST: 'ok,#' })).toThrow(/HASHTAG_BLOCKLIST=.*not "#"/);
  });

  it('has no LLM by default, and reads one with its timeouts and breaker', () => {
    expect(loadConfig({}).llm).toMatchObject({ engine: 'auto', baseUrl: undefined, model: undefined, timeoutMs: 15_000, totalTimeoutMs: 25_000 });
    const llm = loadConfig({ LLM_BASE_URL: 'http://127.0.0.1:11434/v1', LLM_MODEL: 'llama3.2', LLM_STREAM: 'false', LLM_BREAKER_THRESHOLD: '3' }).llm;
    expect(llm).toMatchObject({ baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2', stream: false, breakerThreshold: 3, responseFormat: 'json_schema' });
  });

  it('checks the LLM settings against each other, naming the variables', () => {
    expect(() => loadConfig({ LLM_BASE_URL: 'http://127.0.0.1:1/v1' })).toThrow(/LLM_MODEL=unset: LLM_BASE_URL is set/);
    expect(() => loadConfig({ CAPTION_ENGINE: 'llm' })).toThrow(/CAPTION_ENGINE=llm: no LLM is configured; set LLM_BASE_URL and LLM_MODEL/);
    expect(() => loadConfig({ LLM_TIMEOUT_MS: '20000', LLM_TOTAL_TIMEOUT_MS: '10000' })).toThrow(/LLM_TOTAL_TIMEOUT_MS=10000: must be at least LLM_TIMEOUT_MS=20000/);
    expect(() => loadConfig({ LLM_BASE_URL: 'http://127.0.0.1:1/v1', LLM_MODEL: 'm', LAZY_LOAD_TIMEOUT: '20' })).toThrow(
      /LLM_TOTAL_TIMEOUT_MS=25000: must be below LAZY_LOAD_TIMEOUT=20 s/,
    );
    expect(() => loadConfig({ LLM_BASE_URL: 'ftp://x' })).toThrow(/LLM_BASE_URL must be an http\(s\) URL/);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ DATABASE_URL: '' }).databaseUrl).toMatch(/^sqlite:/);
  });

  it('reads REDIS_URL, and CACHE_REDIS_URL as its deprecated alias; two different URLs are refused', () => {
    expect(loadConfig({}).redis).toMatchObject({ url: undefined, keyPrefix: 'captions:', fromDeprecatedAlias: false });
    expect(loadConfig({ REDIS_URL: 'redis://a:6379', REDIS_KEY_PREFIX: 'x:' }).redis).toMatchObject({ url: 'redis://a:6379', keyPrefix: 'x:', fromDeprecatedAlias: false });
    expect(loadConfig({ CACHE_REDIS_URL: 'redis://b:6379' }).redis).toMatchObject({ url: 'redis://b:6379', fromDeprecatedAlias: true });
    expect(loadConfig({ REDIS_URL: 'redis://a:6379', CACHE_REDIS_URL: 'redis://a:6379' }).redis.fromDeprecatedAlias).toBe(false);
    expect(() => loadConfig({ REDIS_URL: 'redis://a:6379', CACHE_REDIS_URL: 'redis://b:6379' })).toThrow(/CACHE_REDIS_URL=\(hidden\).*unset CACHE_REDIS_URL/);
    expect(() => loadConfig({ REDIS_URL: 'http://secret@a' })).toThrow(/REDIS_URL=\(hidden\)/);
    expect(() => loadConfig({ REDIS_KEY_PREFIX: 'has space' })).toThrow(/REDIS_KEY_PREFIX/);
  });
});
