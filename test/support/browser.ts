import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's Chromium (`apt-get install chromium`); CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], headless: true });
}

/** What a page reported that a working page never should: console errors, uncaught exceptions, CSP violations. */
export interface PageProblems {
  console: string[];
  errors: string[];
  csp: string[];
}

/** The page's globals the checks below use (the specs compile without the DOM's types). */
interface PageGlobals {
  __cspViolations?: string[];
  document: { addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void };
}

/**
 * A page whose console errors, uncaught exceptions and Content-Security-Policy violations are
 * collected from the first script on (the listener is installed before any of the page's own code).
 */
export async function watchedPage(context: BrowserContext): Promise<{ page: Page; problems: PageProblems; cspViolations: () => Promise<string[]> }> {
  const page = await context.newPage();
  const problems: PageProblems = { console: [], errors: [], csp: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') problems.console.push(m.text());
  });
  page.on('pageerror', (e) => problems.errors.push(e.message));
  await page.addInitScript(() => {
    const g = globalThis as unknown as PageGlobals;
    const seen: string[] = (g.__cspViolations = []);
    g.document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const cspViolations = async () => {
    const seen = await page.evaluate(() => (globalThis as unknown as PageGlobals).__cspViolations ?? []);
    problems.csp.push(...seen.filter((v) => !problems.csp.includes(v)));
    return problems.csp;
  };
  return { page, problems, cspViolations };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/**
 * axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA rules).
 * axe is evaluated through the DevTools protocol: a `<script>` tag added to the page would be
 * (rightly) refused by the UI's own Content-Security-Policy.
 */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // Runs in the page (the specs compile without the DOM's types).
    const { axe, document } = globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: AxeViolation[] }> }; document: unknown };
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations;
  });
  return violations
    .filter((v: AxeViolation) => v.impact === 'serious' || v.impact === 'critical')
    .map((v: AxeViolation) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
}

/** Saves a screenshot to docs/screenshots/<name>.png when UI_SCREENSHOTS is set (how the committed ones are made). */
export async function maybeScreenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  if (!process.env.UI_SCREENSHOTS) return;
  const dir = resolve(import.meta.dirname, '../../docs/screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: resolve(dir, `${name}.png`), fullPage: opts.fullPage ?? true });
}

/**
 * Fails on any console error, uncaught exception, CSP violation or serious accessibility problem
 * of the page as it is now (`view` names it in the failure).
 */
export async function expectCleanPage(watched: { page: Page; problems: PageProblems; cspViolations: () => Promise<string[]> }, view: string): Promise<void> {
  expect(await watched.cspViolations(), `CSP violations on ${view}`).toEqual([]);
  expect(watched.problems.console, `console errors on ${view}`).toEqual([]);
  expect(watched.problems.errors, `uncaught errors on ${view}`).toEqual([]);
  expect(await seriousA11yViolations(watched.page), `accessibility on ${view}`).toEqual([]);
}
