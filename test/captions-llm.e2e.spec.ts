import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LlmCaptionEngine } from '../src/captions/engine/llm/llm-caption.engine.js';
import { CaptionEngineSelection } from '../src/captions/engine/engine-selection.js';
import { FakeChatCompletions, goodReply } from './support/fake-chat-completions.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const API = '/api/v14/lazy';
const base = { content_description: 'Sunset hike up the ridge with friends, golden hour over the valley', hashtag_count: 3 };

describe(`${LlmCaptionEngine.name} in the service (CAPTION_ENGINE=auto, LLM configured)`, () => {
  const llm = new FakeChatCompletions();
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  beforeAll(async () => {
    const baseUrl = await llm.start();
    t = await createTestApp({
      env: {
        LLM_BASE_URL: baseUrl,
        LLM_MODEL: 'fixture-e2e',
        LLM_TIMEOUT_MS: '2000',
        LLM_TOTAL_TIMEOUT_MS: '5000',
        LLM_MAX_RETRIES: '0',
        LLM_BREAKER_THRESHOLD: '2',
        LLM_BREAKER_COOLDOWN_MS: '600000',
        RATE_LIMIT_MAX: '0',
      },
    });
  });
  afterEach(() => llm.reset());
  afterAll(async () => {
    await t.close();
    await llm.stop();
  });

  it('answers with the model that wrote the variations, in one call; a repeated request is a cache hit that asks nothing', async () => {
    const body = { ...base, request_id: 'llm-e2e-1', variation_count: 4 };
    const first = await http().post(`${API}/captions`).send(body).expect(200);
    expect(first.body.model_used).toMatch(/^llm-engine@[\d.]+:fixture-e2e$/);
    expect(first.body).not.toHaveProperty('fallback_reason');
    expect(first.body.variations).toHaveLength(4);
    expect(Object.keys(first.body.variations[0]).sort()).toEqual(
      ['caption', 'character_count', 'emoji_count', 'engagement_prediction', 'hashtags', 'quality_score', 'readability_score', 'word_count'],
    );
    expect(llm.requests).toHaveLength(1);
    const again = await http().post(`${API}/captions`).send(body).expect(200);
    expect(again.body).toMatchObject({ cache_hit: true, model_used: first.body.model_used });
    expect(again.body.variations).toEqual(first.body.variations);
    expect(llm.requests).toHaveLength(1);
  });

  it('writes Japanese, which no offline engine does', async () => {
    llm.fallback = { reply: (req) => goodReply(req, { language: 'japanese' }) };
    const res = await http().post(`${API}/captions`).send({ ...base, language: 'japanese', request_id: 'llm-e2e-ja' }).expect(200);
    expect(res.body.model_used).toMatch(/fixture-e2e$/);
  });

  it('streams the variations the model drafted, each once checked', async () => {
    const res = await http().post(`${API}/stream-captions?variations=12`).set('Accept', 'application/x-ndjson').send({ ...base, request_id: 'llm-e2e-s' }).expect(200);
    const items = res.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(items.map((i) => i.variation_index)).toEqual([...Array(12).keys()]);
    // Ten variations per call: the stream of twelve asked twice.
    expect(llm.requests.map((r) => JSON.parse(r.body.messages[1]!.content).variations_wanted)).toEqual([10, 2]);
  });

  it('drafts batch items with the model too', async () => {
    const res = await http()
      .post(`${API}/batch-process`)
      .send({ requests: [{ ...base, request_id: 'llm-e2e-batch-1' }, { ...base, request_id: 'llm-e2e-batch-2', language: 'korean' }], quality_threshold: 0 })
      .expect(200);
    // The results, then the summary.
    const items = (res.body as Array<{ success?: boolean }>).filter((i) => 'success' in i);
    expect(items.map((i) => i.success)).toEqual([true, true]);
    // Korean has no offline engine: only the model could have written it.
    expect(llm.requests).toHaveLength(2);
  });

  it('falls back to the offline engine with fallback_reason when the model fails, and does not cache the stand-in', async () => {
    llm.fallback = { status: 500 };
    const body = { ...base, request_id: 'llm-e2e-down' };
    const res = await http().post(`${API}/captions`).send(body).expect(200);
    expect(res.body.model_used).toMatch(/^template-engine@/);
    expect(res.body.fallback_reason).toEqual({ code: 'llm_unavailable', message: 'the model server kept answering 500' });
    llm.reset();
    const recovered = await http().post(`${API}/captions`).send(body).expect(200);
    expect(recovered.body.cache_hit).toBe(false);
    expect(recovered.body.model_used).toMatch(/fixture-e2e$/);
    expect(recovered.body).not.toHaveProperty('fallback_reason');
  });

  it('opens the breaker after consecutive failures: requests go straight to the offline engine, and /metrics shows it', async () => {
    llm.fallback = { status: 503 };
    for (const i of [1, 2]) await http().post(`${API}/captions`).send({ ...base, request_id: `llm-e2e-b${i}` }).expect(200);
    expect(t.app.get(CaptionEngineSelection).llm!.circuitOpen).toBe(true);
    const seen = llm.requests.length;
    const res = await http().post(`${API}/captions`).send({ ...base, request_id: 'llm-e2e-b3' }).expect(200);
    expect(res.body.fallback_reason.code).toBe('llm_circuit_open');
    expect(res.body.model_used).toMatch(/^template-engine@/);
    expect(llm.requests.length).toBe(seen);
    const metrics = (await http().get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^llm_circuit_open\{model="fixture-e2e"\} 1$/m);
    expect(metrics).toMatch(/^caption_fallbacks_total\{code="llm_circuit_open"\} [1-9]/m);
    expect(metrics).toMatch(/^llm_tokens_total\{model="fixture-e2e",kind="completion"\} [1-9]/m);
    // A language only the model writes cannot fall back: not a 422 (the server can write it), a 503 of the moment.
    const ja = await http().post(`${API}/captions`).send({ ...base, language: 'japanese', request_id: 'llm-e2e-b4' }).expect(503);
    expect(ja.body).toMatchObject({ error: 'not_ready', message: expect.stringMatching(/^japanese is written only by the LLM engine/) });
    expect(Number(ja.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('CAPTION_ENGINE without an LLM', () => {
  it('refuses to start with CAPTION_ENGINE=llm and no LLM_BASE_URL, naming both', async () => {
    await expect(createTestApp({ env: { CAPTION_ENGINE: 'llm' } })).rejects.toThrow(/CAPTION_ENGINE=llm: no LLM is configured; set LLM_BASE_URL/);
  });

  it('refuses Russian with a 422 naming CAPTION_ENGINE when an LLM is configured but turned off', async () => {
    const t = await createTestApp({ env: { CAPTION_ENGINE: 'template', LLM_BASE_URL: 'http://127.0.0.1:9/v1', LLM_MODEL: 'm' } });
    try {
      const res = await request(t.app.getHttpServer()).post(`${API}/captions`).send({ ...base, language: 'russian' }).expect(422);
      expect(res.body.details).toEqual([{ field: 'language', message: expect.stringMatching(/^russian is written only by the LLM engine, which CAPTION_ENGINE=template turns off/) }]);
    } finally {
      await t.close();
    }
  });
});
