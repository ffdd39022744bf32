import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../common/errors/api-error.js';
import { captionGenerations } from '../common/metrics/metrics.js';
import { CaptionsService } from './captions.service.js';
import { withDefaults } from './dto/caption-generation-request.dto.js';
import { TemplateCaptionEngine } from './engine/template-caption.engine.js';

const generated = async () => (await captionGenerations.get()).values.reduce((s, v) => s + v.value, 0);

describe(CaptionsService.name, () => {
  const sut = new CaptionsService(new TemplateCaptionEngine());
  const request = withDefaults({ content_description: 'Homemade sourdough bread on a rainy Sunday', variation_count: 7, request_id: 'r-1' });

  it('answers variation_count variations with the response fields of API.md', async () => {
    const res = await sut.generate(request);
    expect(res.variations).toHaveLength(7);
    expect(res).toMatchObject({ request_id: 'r-1', cache_hit: false, model_used: 'template-engine@1.0.0', api_version: '14.0.0', optimization_level: 'balanced' });
    const best = Math.max(...res.variations.map((v) => v.quality_score));
    expect(res.variations[res.best_variation_index]!.quality_score).toBe(best);
    expect(res.average_quality_score).toBeCloseTo(res.variations.reduce((s, v) => s + v.quality_score, 0) / 7, 1);
    expect(res.processing_time).toBeGreaterThan(0);
    expect(res.confidence_score).toBeGreaterThan(0);
    expect(new Date(res.generated_at).toISOString()).toBe(res.generated_at);
  });

  it('gives the same variations for the same request, and counts each one generated', async () => {
    const before = await generated();
    const a = await sut.generate(request);
    const b = await sut.generate(withDefaults({ ...request }));
    expect(b.variations).toEqual(a.variations);
    expect((await generated()) - before).toBe(14);
  });

  it('streams the same variations in the guide item shape', async () => {
    const items = await firstValueFrom(sut.streamVariations(request, 7, { signal: new AbortController().signal }).pipe(toArray()));
    const res = await sut.generate(request);
    expect(items.map((i) => i.variation_index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(items.map((i) => i.caption)).toEqual(res.variations.map((v) => v.caption));
    expect(Object.keys(items[0]!).sort()).toEqual(['caption', 'hashtags', 'processing_time', 'quality_score', 'timestamp', 'variation_index']);
  });

  it('refuses a language without phrase banks with 422 naming the supported ones', async () => {
    const err = await sut.generate(withDefaults({ ...request, language: 'spanish' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).getStatus()).toBe(422);
    expect((err as ApiError).details).toEqual([{ field: 'language', message: 'spanish is not supported yet; supported: english' }]);
  });

  it('refuses a max_length that cannot hold the hashtags', () => {
    expect(() => sut.assertSupported(withDefaults({ ...request, max_length: 50, hashtag_count: 15 }))).toThrow(/max_length must be at least 161/);
  });
});
