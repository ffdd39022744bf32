import type { INestApplicationContext } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { captionGenerations } from '../captions/captions.metrics.js';
import { CaptionsModule } from '../captions/captions.module.js';
import { withDefaults } from '../captions/dto/caption-generation-request.dto.js';
import { TemplateCaptionEngine } from '../captions/engine/template-caption.engine.js';
import { KeyedCacheModule } from '../common/cache/keyed-cache.module.js';
import { loadConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { BatchDrafter } from './batch.drafter.js';

const generated = async () => (await captionGenerations.get()).values.reduce((s, v) => s + v.value, 0);

describe(BatchDrafter.name, () => {
  let app: INestApplicationContext;
  let dataDir: string;
  let sut: BatchDrafter;
  let engine: TemplateCaptionEngine;
  beforeAll(async () => {
    // The drafter over the real captions module (engine, lazy loader, history), no HTTP. Drafting on
    // this thread (no worker threads): the specs count the engine's own `generate` calls.
    dataDir = mkdtempSync(join(tmpdir(), 'batch-drafter-'));
    const config = loadConfig({ LOG_LEVEL: 'silent', NODE_ENV: 'test', DATA_DIR: dataDir, CAPTION_WORKERS: '0' });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), KeyedCacheModule, ScheduleModule.forRoot(), CaptionsModule],
      providers: [BatchDrafter],
    }).compile();
    app = await moduleRef.init();
    sut = app.get(BatchDrafter);
    engine = app.get(TemplateCaptionEngine);
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const request = (id: string, variationCount: number) =>
    withDefaults({ content_description: 'Handmade ceramic mug, glazed in ocean blue', variation_count: variationCount, request_id: id, user_id: id });
  const live = () => new AbortController().signal;

  it('counts a regeneration once: concurrent drafts of one round share one drafting, a repeat is served from the loader', async () => {
    const r = request('regen-once', 3);
    const before = await generated();
    const [a, b] = await Promise.all([sut.draft(r, 1, live()), sut.draft(r, 1, live())]);
    expect(a).toEqual(b);
    expect((await generated()) - before).toBe(3);
    expect(await sut.draft(r, 1, live())).toEqual(a);
    expect((await generated()) - before).toBe(3);
  });

  it('caches each round under its own key: the first draft and every round are drafted once each', async () => {
    const r = request('regen-rounds', 3);
    const before = await generated();
    await sut.draft(r, 0, live());
    await sut.draft(r, 1, live());
    await sut.draft(r, 2, live());
    expect((await generated()) - before).toBe(9);
    const drafted = engine.generate.bind(engine);
    const indexes: number[] = [];
    vi.spyOn(engine, 'generate').mockImplementation((req, i) => {
      indexes.push(i);
      return drafted(req, i);
    });
    await sut.draft(r, 3, live());
    expect(indexes).toEqual([9, 10, 11]);
  });

  it('stops a regeneration when its signal aborts: nothing more is drafted, nothing half-done is cached', async () => {
    const r = request('regen-cancel', 10);
    const controller = new AbortController();
    const drafted = engine.generate.bind(engine);
    const indexes: number[] = [];
    vi.spyOn(engine, 'generate').mockImplementation((req, i) => {
      indexes.push(i);
      controller.abort();
      return drafted(req, i);
    });
    const before = await generated();
    await expect(sut.draft(r, 1, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    // Asked again, the round is drafted in full: the cancelled drafting stopped after its one draft
    // (else it would have drafted 11-14 alongside) and left nothing cached.
    await sut.draft(r, 1, live());
    expect(indexes).toEqual([10, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect((await generated()) - before).toBe(11);
  });
});
