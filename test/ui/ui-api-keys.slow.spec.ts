import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage as expectPageClean, launchChromium, maybeScreenshot, watchedPage, type PageProblems } from '../support/browser.js';
import { BuiltServer, ensureBuilt } from '../support/built-server.js';

const KEY = 'ui-spec-key-7f3a9c2e41';
const API = '/api/v14/lazy';

describe('browser client with API keys on (built server, Chromium)', () => {
  let server: BuiltServer;
  let browser: Browser;
  let page: Page;
  let problems: PageProblems;
  let cspViolations: () => Promise<string[]>;
  /** Every API request the page made, with the key it sent. */
  const calls: Array<{ url: string; key: string | undefined }> = [];

  const expectCleanPage = (view: string) => expectPageClean({ page, problems, cspViolations }, view);

  beforeAll(async () => {
    ensureBuilt();
    server = await BuiltServer.start({ API_KEYS: `${KEY},another-key-0000`, SHUTDOWN_DELAY_MS: '0', RATE_LIMIT_MAX: '0', CAPTION_ENGINE: 'template' });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    ({ page, problems, cspViolations } = await watchedPage(context));
    page.on('request', (r) => {
      if (r.url().includes(API)) calls.push({ url: r.url(), key: r.headers()['x-api-key'] });
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('without a key, the page asks for one on every view and calls no protected route', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    for (const view of ['captions', 'history', 'batches', 'service']) {
      await page.goto(`${server.url}/#${view}`);
      await page.locator('#key-needed').waitFor({ state: 'visible' });
      expect(await page.locator('#key-status').textContent()).toBe('Key needed');
      if (view === 'captions') expect(await page.locator('#caption-form-loading').textContent()).toBe('Enter the API key to load the form.');
      if (view === 'history') await expect.poll(() => page.locator('#history-total').textContent()).toBe('Enter the API key to read the history.');
      if (view === 'service') await expect.poll(() => page.locator('#probe-health').textContent()).toBe('200 healthy');
      if (view === 'captions') await maybeScreenshot(page, 'api-key');
      await expectCleanPage(`${view} without a key`);
    }
    // Only the probes, which need no key, were asked.
    expect(calls.filter((c) => !/\/health(\/ready)?$/.test(new URL(c.url).pathname))).toEqual([]);
  });

  it('with the key, every view works and every call carries it', async () => {
    await page.goto(`${server.url}/#captions`);
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.locator('#key-needed').waitFor({ state: 'hidden' });
    expect(await page.locator('#key-status').textContent()).toBe('Key in use');
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('captions-api-key'))).toBe(KEY);

    await page.getByLabel('Content description').fill('Rainy city walk with an umbrella and neon lights');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.locator('#stream-status').textContent()).toMatch(/^5 variations in /);
    expect(await page.locator('.caption-card .engine').first().textContent()).toMatch(/template-engine/);
    await expectCleanPage('captions with the key');

    await page.goto(`${server.url}/#history`);
    await expect.poll(() => page.locator('#history-total').textContent()).toBe('5 captions · 5 loaded');
    // An export with a key is fetched with it, then saved.
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'NDJSON' }).click();
    const lines = readFileSync((await (await download).path()), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5);
    await expectCleanPage('history with the key');

    await page.goto(`${server.url}/#batches`);
    const requests = [0, 1, 2].map((i) => JSON.stringify({ custom_id: `k-${i}`, content_description: `Bakery window display number ${i}` }));
    await page.getByLabel(/paste the lines/).fill(requests.join('\n'));
    await page.getByRole('button', { name: 'Start batch' }).click();
    await expect.poll(() => page.locator('#batch-counts').textContent(), { timeout: 30_000 }).toBe('Ended: 3 of 3 ended · 3 succeeded');
    const results = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download results' }).click();
    expect(readFileSync((await (await results).path()), 'utf8').trim().split('\n')).toHaveLength(3);
    await expectCleanPage('batches with the key');

    await page.goto(`${server.url}/#service`);
    await expect.poll(() => page.locator('#stats-list').textContent()).toContain('Cache hit rate');
    await expectCleanPage('service with the key');

    const protectedCalls = calls.filter((c) => !/\/health(\/ready)?$/.test(new URL(c.url).pathname));
    expect(protectedCalls.length).toBeGreaterThan(5);
    expect(protectedCalls.filter((c) => c.key !== KEY)).toEqual([]);
  });

  it('a wrong key is refused and the page asks again', async () => {
    await page.goto(`${server.url}/#captions`);
    await page.getByLabel('API key').fill('not-the-key');
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.locator('#key-needed').waitFor({ state: 'visible' });
    expect(await page.locator('#key-status').textContent()).toBe('Key refused');
  });
});
