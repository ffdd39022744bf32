import type { INestApplicationContext } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyedCacheModule } from '../common/cache/keyed-cache.module.js';
import { ApiError } from '../common/errors/api-error.js';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { HistoryService } from '../history/history.service.js';
import { captionGenerations } from './captions.metrics.js';
import { CaptionsModule } from './captions.module.js';
import { CaptionsService } from './captions.service.js';
import { withDefaults } from './dto/caption-generation-request.dto.js';
import { ENGLISH } from './engine/languages/english-bank.js';

const generated = async () => (await captionGenerations.get()).values.reduce((s, v) => s + v.value, 0);

describe(CaptionsService.name, () => {
  let app: INestApplicationContext;
  let dataDir: string;
  let sut: CaptionsService;
  let history: HistoryService;
  beforeAll(async () => {
    // The captions module with what it needs (configuration, keyed cache, scheduler), no HTTP.
    dataDir = mkdtempSync(join(tmpdir(), 'captions-service-'));
    const config = loadConfig({ LOG_LEVEL: 'silent', NODE_ENV: 'test', DATA_DIR: dataDir });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), KeyedCacheModule, ScheduleModule.forRoot(), CaptionsModule],
    }).compile();
    app = await moduleRef.init();
    sut = app.get(CaptionsService);
    history = app.get(HistoryService);
  });
  afterAll(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const request = (extra: Record<string, unknown> = {}) =>
    withDefaults({ content_description: 'Homemade sourdough bread on a rainy Sunday', variation_count: 7, request_id: 'svc-1', user_id: 'baker', ...extra });

  it('answers variation_count variations with every response field', async () => {
    const res = await sut.generate(request({ request_id: 'fields-1' }));
    expect(res.variations).toHaveLength(7);
    expect(res).toMatchObject({ request_id: 'fields-1', cache_hit: false, model_used: 'template-engine@2.0.0', api_version: '14.0.0', optimization_level: 'balanced' });
    const best = Math.max(...res.variations.map((v) => v.quality_score));
    expect(res.variations[res.best_variation_index]!.quality_score).toBe(best);
    expect(res.average_quality_score).toBeCloseTo(res.variations.reduce((s, v) => s + v.quality_score, 0) / 7, 1);
    expect(res.processing_time).toBeGreaterThan(0);
    expect(res.confidence_score).toBeGreaterThan(0);
    expect(new Date(res.generated_at).toISOString()).toBe(res.generated_at);
  });

  it('serves a repeated request from the loader tiers without drafting again, and drafts again when bypassed', async () => {
    const first = await sut.generate(request({ request_id: 'cache-1' }));
    const before = await generated();
    const again = await sut.generate(request({ request_id: 'cache-1' }));
    expect(again.cache_hit).toBe(true);
    expect(again.variations).toEqual(first.variations);
    expect(await generated()).toBe(before);
    const fresh = await sut.generate(request({ request_id: 'cache-1' }), { bypassCache: true });
    expect(fresh.cache_hit).toBe(false);
    expect(fresh.variations).toEqual(first.variations);
    expect((await generated()) - before).toBe(7);
  });

  it('stores every drafted variation in the history with its request fields', async () => {
    const before = await history.count({ userId: 'history-user' });
    const res = await sut.generate(request({ request_id: 'hist-1', user_id: 'history-user', style: 'playful', variation_count: 3 }));
    expect((await history.count({ userId: 'history-user' })) - before).toBe(3);
    expect(await history.count({ userId: 'history-user', style: 'playful' })).toBeGreaterThanOrEqual(3);
    expect(res.variations).toHaveLength(3);
  });

  it('streams the same variations as stream items, drafted once', async () => {
    const r = request({ request_id: 'stream-svc' });
    const before = await generated();
    const items = await firstValueFrom(sut.streamVariations(r, 7, { signal: new AbortController().signal }).pipe(toArray()));
    expect((await generated()) - before).toBe(7);
    const res = await sut.generate(r);
    expect(items.map((i) => i.variation_index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(items.map((i) => i.caption)).toEqual(res.variations.map((v) => v.caption));
    expect(Object.keys(items[0]!).sort()).toEqual(['caption', 'engagement_prediction', 'hashtags', 'model_used', 'processing_time', 'quality_score', 'readability_score', 'timestamp', 'variation_index']);
  });

  it('refuses a language only a language model writes, with no LLM configured: 422 naming LLM_BASE_URL and the offline languages', async () => {
    const err = await sut.generate(request({ language: 'japanese' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).getStatus()).toBe(422);
    const [detail, ...others] = (err as ApiError).details ?? [];
    expect(others).toEqual([]);
    expect(detail?.field).toBe('language');
    expect(detail?.message).toMatch(/^japanese is written only by the LLM engine, and none is configured: set LLM_BASE_URL and LLM_MODEL .*; written offline: english, spanish/);
  });

  it('refuses a max_length that cannot hold the hashtags', () => {
    expect(() => sut.assertSupported(request({ max_length: 50, hashtag_count: 5 }))).toThrow(/max_length must be at least 81/);
  });

  it('refuses to start with a blocklist that leaves too few fallback tags for HASHTAG_LIMIT, naming both', async () => {
    const blocklist = ENGLISH.shortTags.slice(0, 12).join(',');
    const config = loadConfig({ LOG_LEVEL: 'silent', NODE_ENV: 'test', DATA_DIR: dataDir, HASHTAG_LIMIT: '30', HASHTAG_BLOCKLIST: blocklist });
    const compiled = Test.createTestingModule({ imports: [ConfigModule.forRoot(config), KeyedCacheModule, ScheduleModule.forRoot(), CaptionsModule] }).compile();
    await expect(compiled).rejects.toThrow(ConfigError);
    await expect(compiled).rejects.toThrow(/HASHTAG_BLOCKLIST: the blocklist leaves 29 of the english short fallback tags.*\(HASHTAG_LIMIT=30\)/);
  });

  it('gives five hashtags by default and refuses more than HASHTAG_LIMIT, naming the limit and the setting', async () => {
    const res = await sut.generate(request({ request_id: 'limit-default', variation_count: 2 }));
    for (const v of res.variations) expect(v.hashtags).toHaveLength(5);
    const before = await generated();
    for (const include_hashtags of [true, false]) {
      const err = await sut.generate(request({ request_id: 'limit-over', hashtag_count: 6, include_hashtags })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).getStatus()).toBe(422);
      expect((err as ApiError).code).toBe('validation_failed');
      expect((err as ApiError).message).toBe('hashtag_count must not be greater than 5 (HASHTAG_LIMIT)');
      expect((err as ApiError).details).toEqual([{ field: 'hashtag_count', message: 'must not be greater than 5 (HASHTAG_LIMIT)' }]);
    }
    expect(() => sut.streamVariations(request({ hashtag_count: 30 }), 1, { signal: new AbortController().signal })).toThrow(/HASHTAG_LIMIT/);
    expect(await generated()).toBe(before);
  });
});
