import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CaptionsController } from '../src/captions/captions.controller.js';
import { HistoryService } from '../src/history/history.service.js';
import type { CaptionsClient } from '@instagram-captions/client';
import { apiClient } from './support/api-client.js';
import { listening } from './support/raw-request.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const URL = '/api/v14/lazy/captions' as const;
const base = { content_description: 'Fresh strawberry pancakes for a lazy Sunday brunch' };

describe(CaptionsController.name, () => {
  let t: TestApp;
  let client: CaptionsClient;
  const http = () => request(t.app.getHttpServer());
  beforeAll(async () => {
    t = await createTestApp();
    client = apiClient(await listening(t.app));
  });
  afterAll(async () => t.close());

  it('answers a CaptionGenerationResponse with variation_count variations', async () => {
    const res = await client.POST(URL, { body: { ...base, variation_count: 4, max_length: 300, hashtag_count: 4 } });
    expect(res.response.status).toBe(200);
    const body = res.data!;
    expect(body).toMatchObject({ cache_hit: false, model_used: 'template-engine@2.0.0', api_version: '14.0.0', optimization_level: 'balanced' });
    expect(typeof body.request_id).toBe('string');
    expect(body.variations).toHaveLength(4);
    for (const v of body.variations) {
      expect(v.hashtags).toHaveLength(4);
      expect(v.character_count).toBeLessThanOrEqual(300);
      expect([...`${v.caption}\n\n${v.hashtags.join(' ')}`].length).toBe(v.character_count);
      expect(v.caption.toLowerCase()).toContain('strawberry pancakes');
    }
    expect(new Set(body.variations.map((v) => v.caption)).size).toBe(4);
  });

  it('gives the same variations for the same request_id, from the cache until the client says no-cache', async () => {
    const body = { ...base, request_id: 'same-1', style: 'storytelling' };
    const a = await http().post(URL).send(body).expect(200);
    const cached = await http().post(URL).send(body).expect(200);
    expect(cached.body.cache_hit).toBe(true);
    const b = await http().post(URL).set('Cache-Control', 'no-cache').send(body).expect(200);
    expect(b.body.cache_hit).toBe(false);
    expect(b.body.request_id).toBe('same-1');
    expect(cached.body.variations).toEqual(a.body.variations);
    expect(b.body.variations).toEqual(a.body.variations);
  });

  it('stores every variation in the caption history', async () => {
    const made = await client.POST(URL, { body: { ...base, user_id: 'e2e-history', style: 'educational', variation_count: 2 } });
    expect(made.response.status).toBe(200);
    const res = await client.GET('/api/v14/lazy/caption-history', { params: { query: { user_id: 'e2e-history' } } });
    expect(res.response.status).toBe(200);
    expect(res.data!.data).toHaveLength(2);
    for (const row of res.data!.data) {
      expect(row).toMatchObject({ user_id: 'e2e-history', style: 'educational' });
      expect(row.caption.toLowerCase()).toContain('strawberry pancakes');
      expect(row.hashtags).toHaveLength(5);
    }
  });

  it('answers 503 load_failed, never an unstored caption, when the history store keeps failing', async () => {
    const spy = vi.spyOn(t.app.get(HistoryService), 'record').mockRejectedValue(new Error('disk I/O error at /var/db'));
    try {
      const res = await http().post(URL).send({ ...base, request_id: 'history-down' }).expect(503);
      expect(res.body.error).toBe('load_failed');
      expect(JSON.stringify(res.body)).not.toContain('/var/db');
    } finally {
      spy.mockRestore();
    }
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['missing description', {}, 'content_description'],
    ['too short description', { content_description: '  abc   ' }, 'content_description'],
    ['script markup', { content_description: 'Hello <script>alert(1)</script>' }, 'content_description'],
    ['an event handler', { ...base, brand_info: { name: '<img src=x onerror=alert(1)>' } }, 'brand_info.name'],
    ['unknown style', { ...base, style: 'sarcastic' }, 'style'],
    ['hashtag_count 0', { ...base, hashtag_count: 0 }, 'hashtag_count'],
    ['hashtag_count 31', { ...base, hashtag_count: 31 }, 'hashtag_count'],
    ['max_length 49', { ...base, max_length: 49 }, 'max_length'],
    ['max_length too short for the hashtags', { ...base, max_length: 60, hashtag_count: 5 }, 'max_length'],
    ['hashtag_count over HASHTAG_LIMIT', { ...base, hashtag_count: 6 }, 'hashtag_count'],
    ['variation_count 11', { ...base, variation_count: 11 }, 'variation_count'],
    ['an unknown field', { ...base, mood: 'happy' }, 'mood'],
    ['a string for a number', { ...base, hashtag_count: '5' }, 'hashtag_count'],
    ['a string for a boolean', { ...base, include_emojis: 'yes' }, 'include_emojis'],
    ['a bad time zone', { ...base, timezone: 'Mars/Olympus' }, 'timezone'],
    ['a bad user_id', { ...base, user_id: 'a b' }, 'user_id'],
    ['too many brand keywords', { ...base, brand_info: { keywords: Array.from({ length: 21 }, (_, i) => `k${i}`) } }, 'brand_info.keywords'],
    ['a language without phrase banks', { ...base, language: 'russian' }, 'language'],
    ['an unknown brand_info field', { ...base, brand_info: { colour: 'red' } }, 'brand_info.colour'],
    ['brand_info that is not an object', { ...base, brand_info: 'Acme' }, 'brand_info'],
    ['a javascript: URL in the voice', { ...base, brand_info: { voice: 'see javascript:alert(1)' } }, 'brand_info.voice'],
    ['a non-integer variation_count', { ...base, variation_count: 2.5 }, 'variation_count'],
  ];
  it.each(invalid)('answers 422 naming the field for %s', async (_name, body, field) => {
    const res = await http().post(URL).send(body).expect(422);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it('refuses a language only the LLM engine writes, naming what would serve it and the offline languages', async () => {
    const res = await http().post(URL).send({ ...base, language: 'japanese' }).expect(422);
    expect(res.body.message).toMatch(/^language japanese is written only by the LLM engine, and none is configured: set LLM_BASE_URL and LLM_MODEL/);
    expect(res.body.message).toMatch(/written offline: english, spanish, french, german, italian, portuguese$/);
  });

  it('writes Spanish captions for language spanish', async () => {
    const res = await http().post(URL).send({ content_description: 'Tortitas de fresa caseras para un domingo tranquilo', language: 'spanish', style: 'promotional', include_cta: true }).expect(200);
    for (const v of res.body.variations) {
      expect(v.caption.toLowerCase()).toContain('tortitas de fresa');
      expect(v.caption).toMatch(/enlace de la bio|DM/);
    }
  });

  it('answers 413 for a 10 MB description', async () => {
    const res = await http().post(URL).set('Content-Type', 'application/json').send(JSON.stringify({ content_description: 'x'.repeat(10 * 1024 * 1024) })).expect(413);
    expect(res.body.error).toBe('payload_too_large');
  });
});
