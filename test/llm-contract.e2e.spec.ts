import { describe, expect, it } from 'vitest';
import { withDefaults } from '../src/captions/dto/caption-generation-request.dto.js';
import { LlmCaptionEngine } from '../src/captions/engine/llm/llm-caption.engine.js';
import { TemplateCaptionEngine } from '../src/captions/engine/template-caption.engine.js';
import { DEFAULT_HASHTAG_BLOCKLIST } from '../src/config/hashtag-rules.js';

/**
 * The LLM engine against a real OpenAI-compatible endpoint: `LLM_BASE_URL`, `LLM_MODEL` and (if
 * it needs one) `LLM_API_KEY` from the environment. vitest.config.ts includes this file only when
 * `LLM_BASE_URL` is set (and says so when it is not), so a run without a model counts no skipped test.
 */
const env = process.env;
const engine = () =>
  new LlmCaptionEngine({
    baseUrl: env.LLM_BASE_URL!,
    apiKey: env.LLM_API_KEY,
    model: env.LLM_MODEL ?? 'unset',
    timeoutMs: 60_000,
    totalTimeoutMs: 170_000,
    maxRetries: 2,
    stream: true,
    responseFormat: 'json_schema',
    temperature: 0.7,
    breakerThreshold: 100,
    breakerCooldownMs: 1000,
    hashtagBlocklist: DEFAULT_HASHTAG_BLOCKLIST,
    maxHashtags: 5,
    fallback: new TemplateCaptionEngine(),
  });

describe(`${LlmCaptionEngine.name} contract (real endpoint)`, { timeout: 180_000 }, () => {
  it('names a model', () => {
    expect(env.LLM_MODEL, 'LLM_MODEL must be set with LLM_BASE_URL').toBeTruthy();
  });

  it.each(['english', 'spanish', 'japanese'] as const)('writes valid %s captions without falling back', async (language) => {
    const request = withDefaults({
      content_description: 'Sunset hike up the ridge with friends, golden hour over the valley',
      language,
      hashtag_count: 3,
      variation_count: 2,
      max_length: 400,
    });
    const drafts = await engine().draftVariations(request, { first: 0, count: 2 }, new AbortController().signal);
    expect(drafts.fallback_reason).toBeUndefined();
    expect(drafts.variations).toHaveLength(2);
    for (const v of drafts.variations) {
      expect(v.hashtags).toHaveLength(3);
      expect(v.character_count).toBeLessThanOrEqual(400);
      expect(v.caption).not.toMatch(/https?:\/\/|@\w/);
    }
  });
});
