import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDefaults } from '../src/captions/dto/caption-generation-request.dto.js';
import { PooledCaptionEngine } from '../src/captions/engine/drafting/pooled-caption.engine.js';
import { CaptionEngineSelection } from '../src/captions/engine/engine-selection.js';
import { TemplateCaptionEngine } from '../src/captions/engine/template-caption.engine.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const P = '/api/v14/lazy';

describe('captions drafted on worker threads (CAPTION_WORKERS=1)', () => {
  let t: TestApp;
  let pooled: PooledCaptionEngine;
  beforeAll(async () => {
    t = await createTestApp({ env: { CAPTION_WORKERS: '1', HASHTAG_BLOCKLIST: '#sunset' } });
    pooled = t.app.get(CaptionEngineSelection).offline as PooledCaptionEngine;
  });
  afterAll(() => t.close());

  it('serves the variations the engine writes on the main thread, with no thread at rest before', async () => {
    expect(pooled).toBeInstanceOf(PooledCaptionEngine);
    expect(pooled.threads).toBe(0);
    await pooled.ready();
    const body = { content_description: 'Sunset hike up Mount Tamalpais with our new trail running shoes', variation_count: 3, request_id: 'workers-1' };
    const res = await request(t.app.getHttpServer()).post(`${P}/captions`).send(body).expect(200);
    const inline = t.app.get(TemplateCaptionEngine);
    const r = withDefaults(body);
    expect(res.body.variations).toEqual([0, 1, 2].map((i) => inline.generate(r, i)));
    expect(res.body.confidence_score).toBe(await inline.confidence(r, res.body.variations));
    expect(res.body.model_used).toBe(inline.name);
    expect(pooled.threads).toBe(1);
    // Answered from the cache the second time: the same key as the engine on the main thread.
    const again = await request(t.app.getHttpServer()).post(`${P}/captions`).send(body).expect(200);
    expect([again.body.cache_hit, again.body.variations]).toEqual([true, res.body.variations]);
  });

  it('stops its threads when the app closes', async () => {
    const other = await createTestApp({ env: { CAPTION_WORKERS: '2' } });
    const engine = other.app.get(CaptionEngineSelection).offline as PooledCaptionEngine;
    await request(other.app.getHttpServer()).post(`${P}/captions`).send({ content_description: 'Fresh bread at the corner bakery', variation_count: 1 }).expect(200);
    expect(engine.threads).toBeGreaterThan(0);
    await other.close();
    expect(engine.threads).toBe(0);
  });
});
