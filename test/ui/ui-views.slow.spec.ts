import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanPage as expectPageClean, launchChromium, maybeScreenshot, watchedPage, type PageProblems } from '../support/browser.js';
import { BuiltServer, ensureBuilt, runNode } from '../support/built-server.js';
import { FakeChatCompletions, goodReply } from '../support/fake-chat-completions.js';
import { deferred } from '../support/gate.js';

const API = '/api/v14/lazy';
/** Rows in the history before the spec starts: enough that only a windowed list scrolls them well. */
const SEEDED_ROWS = 100_000;
/** The LLM engine drafts this many variations per call. */
const DRAFT_SIZE = 10;

/** Sum of every sample of `name` whose labels include `labels`, in Prometheus text. */
function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.startsWith(`${name}{`) ? line.slice(name.length, line.indexOf('}') + 1) : '';
    if (wanted.every((w) => labelPart.includes(w))) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

/** Waits until `check` holds (polled), or fails naming `what`. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('browser client (built server, Chromium)', () => {
  const llm = new FakeChatCompletions();
  let server: BuiltServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: PageProblems;
  let cspViolations: () => Promise<string[]>;

  const metrics = async () => (await fetch(`${server.url}/metrics`)).text();
  const apiTotal = async (query = '') => ((await (await fetch(`${server.url}${API}/caption-history?page_size=1${query}`)).json()) as { pagination: { total_items: number } }).pagination.total_items;

  /** Fails on any console error, uncaught exception, CSP violation or serious accessibility problem of the page as it is. */
  const expectCleanPage = (view: string) => expectPageClean({ page, problems, cspViolations }, view);

  beforeAll(async () => {
    ensureBuilt();
    const llmUrl = await llm.start();
    const env = { SHUTDOWN_DELAY_MS: '0', RATE_LIMIT_MAX: '0', CAPTION_ENGINE: 'llm', LLM_BASE_URL: llmUrl, LLM_MODEL: 'fixture-ui', LLM_STREAM: 'false', LLM_MAX_RETRIES: '0' };
    server = await BuiltServer.start(env);
    // The seed writes into the server's own database (SQLite under its DATA_DIR), beside it.
    runNode('dist/history/seed.cli.js', ['--rows', String(SEEDED_ROWS), '--users', '40', '--quiet'], { ...env, DATA_DIR: server.dataDir, LOG_LEVEL: 'silent' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    ({ page, problems, cspViolations } = await watchedPage(context));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await llm.stop();
  });

  it('serves the page with its own strict policy, and its files under a content hash, cached for good', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe');
    const html = await res.text();
    const script = /src="(\/ui\/[0-9a-f]{16}\/app\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${server.url}/ui/0000000000000000/app.js`)).status).toBe(404);
    // The API keeps its own policy.
    expect((await fetch(`${server.url}${API}/health`)).headers.get('content-security-policy')).not.toBe(csp);
  });

  it('shows the first caption card before the stream has ended, and every card with its engine', async () => {
    const second = deferred();
    llm.enqueue({ reply: (req) => goodReply(req) }, { reply: (req) => goodReply(req), until: second.promise });
    let streamEndedAt: number | undefined;
    page.on('requestfinished', (r) => {
      if (r.url().includes('/stream-captions')) streamEndedAt = Date.now();
    });
    await page.goto(`${server.url}/#captions`);
    await page.getByLabel('Content description').fill('Sunset hike with friends on the ridge, golden light');
    await page.getByRole('spinbutton', { name: 'Variations' }).fill(String(2 * DRAFT_SIZE));
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.locator('.caption-card').first().waitFor({ state: 'visible' });
    const firstCardAt = Date.now();
    // The second draft is held: the stream is still open while the first cards are on screen.
    await until('the second draft to be asked for', () => llm.requests.length === 2);
    expect(streamEndedAt).toBeUndefined();
    expect(await page.locator('.caption-card').count()).toBe(DRAFT_SIZE);
    await expect.poll(() => page.getByRole('button', { name: 'Stop' }).isEnabled()).toBe(true);
    second.resolve();
    await page.locator('.caption-card').nth(2 * DRAFT_SIZE - 1).waitFor();
    await until('the stream to end', () => streamEndedAt !== undefined);
    expect(firstCardAt).toBeLessThan(streamEndedAt!);
    const first = page.locator('.caption-card').first();
    await expect.poll(() => first.locator('.engine').textContent()).toMatch(/fixture-ui/);
    expect(await first.locator('.hashtags li').count()).toBe(5);
    await first.getByRole('button', { name: 'Copy variation 1' }).click();
    await expect.poll(() => first.locator('button.copy').textContent()).toBe('Copied variation 1');
    const copied = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
    expect(copied).toContain(await first.locator('.caption-text').textContent());
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    await maybeScreenshot(page, 'captions', { fullPage: false });
    await expectCleanPage('captions');
  });

  it('Stop aborts the stream, and the server drafts no more than it had', async () => {
    const held = deferred();
    llm.enqueue({ reply: (req) => goodReply(req) }, { reply: (req) => goodReply(req), until: held.promise });
    const asked = 3 * DRAFT_SIZE;
    const before = await metrics();
    const requestsBefore = llm.requests.length;
    const abandonedBefore = llm.abandoned;
    await page.getByLabel('Content description').fill('Morning coffee by the harbour before work');
    await page.getByRole('spinbutton', { name: 'Variations' }).fill(String(asked));
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.locator('.caption-card').nth(DRAFT_SIZE - 1).waitFor();
    await until('the second draft to be asked for', () => llm.requests.length === requestsBefore + 2);
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => page.locator('#stream-status').textContent()).toBe(`Stopped after ${DRAFT_SIZE} variations`);
    const closed = (t: string) => metricSum(t, 'http_streams_ended_total', { route: 'POST /stream-captions', outcome: 'client_closed' });
    let after = '';
    await until('the server to count the stream as closed by its client', async () => closed((after = await metrics())) === closed(before) + 1);
    // The held draft was given up by the server when the reader left, and no third one was asked.
    await until('the held draft to be abandoned', () => llm.abandoned === abandonedBefore + 1);
    held.resolve();
    expect(llm.requests.length).toBe(requestsBefore + 2);
    const drafted = metricSum(after, 'caption_generations_total') - metricSum(before, 'caption_generations_total');
    expect(drafted).toBe(DRAFT_SIZE);
    expect(drafted).toBeLessThan(asked);
    await expectCleanPage('captions after Stop');
  });

  it('puts each error of the contract next to the field it names', async () => {
    await page.getByLabel('Content description').fill('Coffee and a good book on a rainy afternoon');
    await page.getByLabel('Max length').fill('40');
    await page.getByRole('button', { name: 'Generate' }).click();
    const error = page.locator('#cf-max_length-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toMatch(/50/);
    expect(await page.getByLabel('Max length').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Max length').fill('2200');
    // A 422 answer shows in the console as a failed load: it is what this check is about, not a fault of the page.
    problems.console.splice(0, problems.console.length, ...problems.console.filter((m) => !/status of 422/.test(m)));
  });

  it('history: the true total, the next cursor page before the end, a windowed DOM, filters that change the total', async () => {
    const total = await apiTotal();
    expect(total).toBeGreaterThanOrEqual(SEEDED_ROWS);
    await page.goto(`${server.url}/#history`);
    const status = page.locator('#history-total');
    await expect.poll(() => status.textContent()).toBe(`${total.toLocaleString('en')} captions · 100 loaded`);
    const viewport = page.locator('#history-viewport');
    const rowHeight = await page.locator('.history-row').first().evaluate((el) => el.getBoundingClientRect().height);
    // Scrolled to row 45 of the 100 loaded: the next page comes while the reader is still far from the end.
    await viewport.evaluate((el, top) => (el.scrollTop = top), 45 * rowHeight);
    await expect.poll(() => status.textContent()).toBe(`${total.toLocaleString('en')} captions · 200 loaded`);
    const position = await viewport.evaluate((el) => ({ top: el.scrollTop, bottom: el.scrollTop + el.clientHeight }));
    expect(position.bottom).toBeLessThan(100 * rowHeight);
    // Down to the end of what is loaded, again and again: each time one more page.
    for (const loaded of [300, 400, 500]) {
      await viewport.evaluate((el) => (el.scrollTop = el.scrollHeight));
      await expect.poll(() => status.textContent()).toBe(`${total.toLocaleString('en')} captions · ${loaded} loaded`);
    }
    const rows = await page.locator('.history-row').count();
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(60);
    const visible = await page.locator('.history-row').evaluateAll((els) => els.map((e) => Number(e.getAttribute('aria-posinset'))));
    expect(Math.max(...visible)).toBeGreaterThan(400);
    await viewport.evaluate((el) => (el.scrollTop = 0));
    await maybeScreenshot(page, 'history');

    await page.locator('#hf-style').selectOption('playful');
    await page.getByLabel('User', { exact: true }).fill('user_7');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const filtered = await apiTotal('&style=playful&user_id=user_7');
    expect(filtered).toBeLessThan(total);
    await expect.poll(() => status.textContent()).toMatch(new RegExp(`^${filtered.toLocaleString('en')} captions · `));
    expect(await page.locator('#export-csv').getAttribute('href')).toBe(`${API}/caption-history/export?format=csv&user_id=user_7&style=playful`);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'CSV' }).click();
    const csv = readFileSync((await (await download).path()), 'utf8').trim().split('\n');
    expect(csv.length - 1).toBe(filtered);
    await expectCleanPage('history');
  });

  it('batch jobs: an upload followed to its end, its results offered, and listed', async () => {
    const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify({ custom_id: `ui-${i}`, content_description: `Farmers market haul number ${i}, fresh peaches`, style: 'playful' }));
    await page.goto(`${server.url}/#batches`);
    await page.getByLabel(/NDJSON file/).setInputFiles({ name: 'requests.ndjson', mimeType: 'application/x-ndjson', buffer: Buffer.from(`${lines.join('\n')}\n`) });
    await page.getByRole('button', { name: 'Start batch' }).click();
    await expect.poll(() => page.locator('#batch-counts').textContent(), { timeout: 30_000 }).toBe('Ended: 6 of 6 ended · 6 succeeded');
    const progress = page.locator('#batch-progress');
    expect(await progress.evaluate((p) => [(p as unknown as { value: number }).value, (p as unknown as { max: number }).max])).toEqual([6, 6]);
    const link = page.getByRole('link', { name: 'Download results' });
    await link.waitFor();
    const download = page.waitForEvent('download');
    await link.click();
    const results = readFileSync((await (await download).path()), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(results.map((r) => r.custom_id)).toEqual(lines.map((_, i) => `ui-${i}`));
    expect(results.every((r) => r.result.type === 'succeeded')).toBe(true);
    const id = await page.locator('#batch-id').textContent();
    await expect.poll(() => page.locator('#batch-rows').textContent()).toContain(id);
    await maybeScreenshot(page, 'batches');
    await expectCleanPage('batches');
  });

  it('batch jobs: cancel ends the items not yet started', async () => {
    // Every draft is held: the first items stay running while the others wait their turn.
    const held = deferred();
    llm.fallback = { reply: (req) => goodReply(req), until: held.promise };
    try {
      const count = 12;
      const lines = Array.from({ length: count }, (_, i) => JSON.stringify({ custom_id: `c-${i}`, content_description: `Street food stall number ${i} at night` }));
      await page.getByLabel(/paste the lines/).fill(lines.join('\n'));
      const requestsBefore = llm.requests.length;
      await page.getByRole('button', { name: 'Start batch' }).click();
      await until('the first items to be drafting', () => llm.requests.length > requestsBefore);
      await page.getByRole('button', { name: 'Cancel batch' }).click();
      await expect.poll(() => page.locator('#batch-counts').textContent()).toMatch(/^Canceling: /);
      held.resolve();
      await expect.poll(() => page.locator('#batch-counts').textContent(), { timeout: 30_000 }).toMatch(new RegExp(`^Ended: ${count} of ${count} ended · `));
      const text = (await page.locator('#batch-counts').textContent())!;
      const succeeded = Number(/(\d+) succeeded/.exec(text)![1]);
      const canceled = Number(/(\d+) canceled/.exec(text)?.[1] ?? 0);
      expect(canceled).toBeGreaterThan(0);
      expect(succeeded + canceled).toBe(count);
      expect(await page.getByRole('button', { name: 'Cancel batch' }).isDisabled()).toBe(true);
      await expectCleanPage('batches after cancel');
    } finally {
      held.resolve();
      llm.fallback = { reply: (req) => goodReply(req) };
    }
  });

  it('service: probes, /stats, and a chart that grows with each poll', async () => {
    await page.goto(`${server.url}/#service`);
    await expect.poll(() => page.locator('#probe-health').textContent()).toBe('200 healthy');
    await expect.poll(() => page.locator('#probe-ready').textContent()).toMatch(/^200/);
    const points = () => page.locator('.chart-line').first().evaluate((l) => (l.getAttribute('points') ?? '').split(' ').filter(Boolean).length);
    await expect.poll(points, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#stats-list').textContent()).toContain('Cache hit rate');
    await maybeScreenshot(page, 'service');
    await expectCleanPage('service');
  });
});
