// `npm run bench -- ui`: the browser client's history list in Chromium against the built server.
// Loads UI_BENCH_ROWS rows (100,000 by default) the way a reader does (scrolling to the end, one
// cursor page of 100 after the other), then jumps through all of them in 600 frames and times
// each frame. Baseline, in the same page and run: 600 frames with no scrolling at all (the
// machine's and the browser's own floor). Reports the ratio of the scrolling frames to it, and
// how many rows the DOM holds.
import { expect, it } from 'vitest';
import { launchChromium } from '../test/support/browser.js';
import { BuiltServer, ensureBuilt, runNode } from '../test/support/built-server.js';

const ROWS = Number(process.env.UI_BENCH_ROWS ?? 100_000);
const FRAMES = 600;

interface FrameStats {
  p50: number;
  p95: number;
  max: number;
  rowsInDom: number;
}

it(`history list: ${ROWS.toLocaleString('en')} rows loaded, ${FRAMES} frames of scrolling vs ${FRAMES} idle frames`, async () => {
  ensureBuilt();
  const env = { SHUTDOWN_DELAY_MS: '0', RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn' };
  const server = await BuiltServer.start(env);
  const browser = await launchChromium();
  try {
    runNode('dist/history/seed.cli.js', ['--rows', String(ROWS), '--quiet'], { ...env, DATA_DIR: server.dataDir, LOG_LEVEL: 'silent' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/#history`);
    // Runs in the page (the bench compiles without the DOM's types).
    const loadedRows = () => page.evaluate(() => {
      const text = (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('history-total').textContent;
      return Number((/([\d,]+) loaded/.exec(text)?.[1] ?? '0').replace(/,/g, ''));
    });
    await expect.poll(loadedRows, { timeout: 60_000 }).toBeGreaterThan(0);
    const started = performance.now();
    let loaded = await loadedRows();
    while (loaded < ROWS) {
      await page.locator('#history-viewport').evaluate((el) => (el.scrollTop = el.scrollHeight));
      const before = loaded;
      await expect.poll(loadedRows, { timeout: 60_000 }).toBeGreaterThan(before);
      loaded = await loadedRows();
    }
    const loadSeconds = (performance.now() - started) / 1000;
    const measure = (scroll: boolean) =>
      page.locator('#history-viewport').evaluate(
        async (v, { frames, scroll }): Promise<FrameStats> => {
          const g = globalThis as unknown as { requestAnimationFrame(cb: () => void): void };
          const raf = (cb: () => void) => g.requestAnimationFrame(cb);
          const times: number[] = [];
          v.scrollTop = 0;
          await new Promise<void>((r) => raf(() => r()));
          let last = performance.now();
          for (let i = 0; i < frames; i++) {
            if (scroll) v.scrollTop = (i / frames) * (v.scrollHeight - v.clientHeight);
            await new Promise<void>((r) => raf(() => r()));
            const now = performance.now();
            times.push(now - last);
            last = now;
          }
          times.sort((a, b) => a - b);
          return { p50: times[Math.floor(frames / 2)]!, p95: times[Math.floor(frames * 0.95)]!, max: times[frames - 1]!, rowsInDom: v.querySelectorAll('.history-row').length };
        },
        { frames: FRAMES, scroll },
      );
    const idle = await measure(false);
    const scrolling = await measure(true);
    const ms = (n: number) => n.toFixed(1);
    console.log(
      [
        `rows loaded through the UI: ${loaded.toLocaleString('en')} (${Math.ceil(loaded / 100)} cursor pages) in ${loadSeconds.toFixed(1)} s`,
        `| frames | p50 ms | p95 ms | max ms | rows in the DOM |`,
        `|---|---|---|---|---|`,
        `| idle (baseline) | ${ms(idle.p50)} | ${ms(idle.p95)} | ${ms(idle.max)} | ${idle.rowsInDom} |`,
        `| scrolling ${Math.round(loaded / FRAMES)} rows a frame | ${ms(scrolling.p50)} | ${ms(scrolling.p95)} | ${ms(scrolling.max)} | ${scrolling.rowsInDom} |`,
        `scrolling / idle: p50 ${(scrolling.p50 / idle.p50).toFixed(2)}, p95 ${(scrolling.p95 / idle.p95).toFixed(2)}`,
      ].join('\n'),
    );
  } finally {
    await browser.close();
    await server.close();
  }
});
