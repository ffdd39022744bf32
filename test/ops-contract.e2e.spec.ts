import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, expectMatchesSpec } from './support/api-client.js';
import { listening } from './support/raw-request.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * Each feature module through the client generated from the committed openapi.json, every body
 * checked against the spec's schema: a route, field or shape that drifts from the contract breaks
 * the type-check (lint) or these assertions.
 */
const P = '/api/v14/lazy';

describe('the generated client against every module (e2e)', () => {
  let t: TestApp;
  let client: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    t = await createTestApp({ env: { API_KEYS: 'contract-key' } });
    client = apiClient(await listening(t.app), { Authorization: 'Bearer contract-key' });
  });
  afterAll(async () => t.close());

  it('captions: POST /captions', async () => {
    const res = await client.POST('/api/v14/lazy/captions', {
      body: { content_description: 'Sunrise hike above the clouds with friends', variation_count: 2, hashtag_count: 5, user_id: 'contract-user' },
    });
    expect(res.response.status).toBe(200);
    expect(res.data?.variations).toHaveLength(2);
    expect(res.data?.variations[0]?.hashtags).toHaveLength(5);
    expectMatchesSpec('POST', `${P}/captions`, 200, res.data);
  });

  it('captions: POST /stream-captions as a JSON array and as NDJSON', async () => {
    const body = { content_description: 'Rainy afternoon in a tiny bookshop café' };
    const json = await client.POST('/api/v14/lazy/stream-captions', { body, params: { query: { variations: 3, chunk_size: 1 } } });
    expect(json.response.status).toBe(200);
    expect(json.response.headers.get('x-streaming')).toBe('true');
    expect(json.data).toHaveLength(3);
    expectMatchesSpec('POST', `${P}/stream-captions`, 200, json.data);

    const ndjson = await client.POST('/api/v14/lazy/stream-captions', {
      body,
      params: { query: { variations: 2 } },
      headers: { Accept: 'application/x-ndjson' },
      parseAs: 'text',
    });
    // parseAs: 'text' leaves the body unparsed; the types still name the item schema.
    const lines = String(ndjson.data ?? '').trim().split('\n').map((l: string) => JSON.parse(l) as unknown);
    expect(lines).toHaveLength(2);
    for (const line of lines) expectMatchesSpec('POST', `${P}/stream-captions`, 200, line, 'application/x-ndjson');
  });

  it('history: GET /caption-history and its export', async () => {
    const page = await client.GET('/api/v14/lazy/caption-history', { params: { query: { user_id: 'contract-user', page_size: 10 } } });
    expect(page.response.status).toBe(200);
    expect(page.data?.data).toHaveLength(2);
    expect(page.data?.pagination.total_items).toBe(2);
    expect(page.response.headers.get('link')).toContain('rel="first"');
    expectMatchesSpec('GET', `${P}/caption-history`, 200, page.data);

    const exported = await client.GET('/api/v14/lazy/caption-history/export', { params: { query: { format: 'json', user_id: 'contract-user' } } });
    expect(exported.response.status).toBe(200);
    expect(exported.data).toHaveLength(2);
    expectMatchesSpec('GET', `${P}/caption-history/export`, 200, exported.data);

    // One rule: `format` if given (Accept must allow it), else Accept; 406 when they disagree.
    const byAccept = await client.GET('/api/v14/lazy/caption-history/export', { params: { query: { user_id: 'contract-user' } }, headers: { Accept: 'text/csv' }, parseAs: 'text' });
    expect(byAccept.response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(byAccept.data?.split('\r\n')[0]).toMatch(/^id,user_id,caption/);
    const disagree = await client.GET('/api/v14/lazy/caption-history/export', { params: { query: { format: 'json' } }, headers: { Accept: 'text/csv' } });
    expect(disagree.response.status).toBe(406);
    expectMatchesSpec('GET', `${P}/caption-history/export`, 406, disagree.error);
  });

  it('batch: POST /batch-process with one failing item', async () => {
    const res = await client.POST('/api/v14/lazy/batch-process', {
      body: {
        requests: [
          { content_description: 'Homemade sourdough with a crackling crust' },
          { content_description: 'x' },
        ],
        batch_id: 'contract-batch',
      },
    });
    expect(res.response.status).toBe(200);
    const items = res.data as Array<Record<string, unknown>>;
    expect(items).toHaveLength(3);
    expect(items.filter((i) => i.success === true)).toHaveLength(1);
    expect(items.filter((i) => i.success === false)).toHaveLength(1);
    expect(items.at(-1)).toMatchObject({ batch_id: 'contract-batch', total: 2, succeeded: 1, failed: 1 });
    expectMatchesSpec('POST', `${P}/batch-process`, 200, res.data);
  });

  it('errors: a 422 and a 401 in the documented error body', async () => {
    const bad = await client.POST('/api/v14/lazy/captions', { body: { content_description: 'ok ok ok', hashtag_count: 31 } });
    expect(bad.response.status).toBe(422);
    expect(bad.error?.details?.[0]?.field).toBe('hashtag_count');
    expectMatchesSpec('POST', `${P}/captions`, 422, bad.error);
    const anon = await apiClient(Number(new URL(bad.response.url).port)).GET('/api/v14/lazy/caption-history');
    expect(anon.response.status).toBe(401);
    expectMatchesSpec('GET', `${P}/caption-history`, 401, anon.error);
  });
});
