import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('browser client serving (e2e)', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('serves the page and its hashed files without a key when API keys are on, while the API still wants one', async () => {
    t = await createTestApp({ env: { API_KEYS: 'serving-spec-key-1234' } });
    const http = request(t.app.getHttpServer());
    const page = await http.get('/').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<meta name="api-auth" content="true">');
    const css = /href="(\/ui\/[0-9a-f]{16}\/styles\.css)"/.exec(page.text)![1]!;
    const asset = await http.get(css).expect(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    await http.get(css).set('If-None-Match', asset.headers.etag!).expect(304);
    await http.get('/api/v14/lazy/stats').expect(401);
    // Only GET and HEAD are the page's: anything else is an API request like any other.
    await http.post('/').expect(401);
  });

  it('answers 404 at / and under /ui with UI_ENABLED=false', async () => {
    t = await createTestApp({ env: { UI_ENABLED: 'false' } });
    const http = request(t.app.getHttpServer());
    await http.get('/').expect(404);
    await http.get('/index.html').expect(404);
  });
});
