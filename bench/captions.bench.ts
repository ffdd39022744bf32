import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { withDefaults } from '../src/captions/dto/caption-generation-request.dto.js';
import { OPTIMIZATION_LEVELS } from '../src/captions/dto/caption-options.js';
import type { Language } from '../src/captions/dto/caption-options.js';
import type { SyncCaptionEngine } from '../src/captions/engine/caption-engine.js';
import { TemplateCaptionEngine } from '../src/captions/engine/template-caption.engine.js';
import { PooledCaptionEngine } from '../src/captions/engine/drafting/pooled-caption.engine.js';
import { CaptionEngineSelection } from '../src/captions/engine/engine-selection.js';
import { EnvironmentVariables } from '../src/config/env.schema.js';
import { loadOldEngine } from './support/old-caption-engine.js';
import { createTestApp, type TestApp } from '../test/support/test-app.js';

/**
 * `npm run bench -- captions`: one run, one table of ratios against baselines measured in the
 * same run. The HTTP load comes from autocannon in a second process (a real client that does
 * not share this process's event loop with the server).
 */
const run = promisify(execFile);
const DESCRIPTION = 'Golden hour picnic in the park with homemade lemonade and good friends';
const rows: Array<[string, string, string, string]> = [];
const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function autocannon(url: string, opts: { method?: string; body?: string; unique?: boolean }): Promise<number> {
  const args = ['node_modules/autocannon/autocannon.js', '-j', '-c', '10', '-d', '2', '-m', opts.method ?? 'GET'];
  if (opts.body) args.push('-H', 'content-type=application/json', '-b', opts.body);
  if (opts.unique) args.push('-I');
  args.push(url);
  const { stdout } = await run('node', args, { maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout) as { requests: { average: number }; non2xx: number; errors: number };
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

/** One description per offline language, as a user of that language would write it. */
const DESCRIPTIONS: Record<string, string> = {
  english: DESCRIPTION,
  spanish: 'Picnic a la hora dorada en el parque con limonada casera y buenos amigos',
  french: 'Pique-nique à l’heure dorée dans le parc avec de la limonade maison et des amis',
  german: 'Picknick zur goldenen Stunde im Park mit selbstgemachter Limonade und guten Freunden',
  italian: 'Picnic all’ora d’oro nel parco con limonata fatta in casa e buoni amici',
  portuguese: 'Piquenique na hora dourada no parque com limonada caseira e bons amigos',
};
/** Rounds of 75 ms per language and engine (`BENCH_CAPTIONS_ROUNDS`, default 10). */
const LANGUAGE_ROUNDS = Number(process.env.BENCH_CAPTIONS_ROUNDS ?? 10);

/** Variations/s of `engine` for `language`: requests of 3 variations (balanced), a new request each, for `ms`. */
function variationsPerSecond(engine: Pick<SyncCaptionEngine, 'generate'>, language: string, ms: number, tag: string): { n: number; s: number } {
  let n = 0;
  let k = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    const r = withDefaults({ content_description: DESCRIPTIONS[language]!, language: language as Language, request_id: `${tag}-${k++}` });
    for (let i = 0; i < 3; i++) engine.generate(r, i);
    n += 3;
  }
  return { n, s: (performance.now() - start) / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Milliseconds from sending the request to the first body bytes. */
async function timeToFirstItem(url: string, requestId: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', 'accept-encoding': 'identity' },
    body: JSON.stringify({ content_description: DESCRIPTION, request_id: requestId }),
  });
  const reader = res.body!.getReader();
  await reader.read();
  const ms = performance.now() - started;
  await reader.cancel();
  return ms;
}

/** Bytes on the wire (no decoding) of one stream. */
function wireBytes(url: string, encoding: string, requestId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', 'accept-encoding': encoding } }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ content_description: DESCRIPTION, request_id: requestId }));
  });
}

describe('captions benchmark', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    // The rate limit (1200/min by default) would answer 429 to a load test: it is measured in the http bench.
    // Drafting as a server has it by default (CAPTION_WORKERS, else its default), warmed before measuring.
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '0', CAPTION_WORKERS: process.env.CAPTION_WORKERS ?? String(new EnvironmentVariables().CAPTION_WORKERS) } });
    const offline = t.app.get(CaptionEngineSelection).offline;
    if (offline instanceof PooledCaptionEngine) await offline.ready();
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/api/v14/lazy`;
  });
  afterAll(async () => {
    await t.close();
    console.log(`\ncaptions benchmark (Node ${process.version}, ${new Date().toISOString()})\n`);
    const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['measure', 'value', 'baseline', 'ratio'][i]!.length));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(line(['measure', 'value', 'baseline', 'ratio']));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
  });

  it('HTTP: POST /captions (3 variations) against liveness on the same server', async () => {
    const body = (id: string) => JSON.stringify({ content_description: DESCRIPTION, variation_count: 3, request_id: id });
    // Three interleaved rounds of 2 s each: load from other jobs on the machine falls on all three alike.
    let live = 0;
    let drafted = 0;
    let cached = 0;
    for (let round = 0; round < 3; round++) {
      live += (await autocannon(`${base}/health/live`, {})) / 3;
      drafted += (await autocannon(`${base}/captions`, { method: 'POST', body: body('[<id>]'), unique: true })) / 3;
      cached += (await autocannon(`${base}/captions`, { method: 'POST', body: body('same') })) / 3;
    }
    rows.push(['GET /health/live req/s (baseline)', fmt(live), fmt(live), '1.00']);
    rows.push(['POST /captions req/s, new request each (drafted + stored)', fmt(drafted), fmt(live), fmt(drafted / live, 2)]);
    rows.push(['POST /captions req/s, repeated request (loader cache)', fmt(cached), fmt(live), fmt(cached / live, 2)]);
  });

  it('engine only: generations/s on one core, by optimization level', () => {
    const engine = new TemplateCaptionEngine();
    const count: Record<string, number> = {};
    const seconds: Record<string, number> = {};
    // Twenty rounds of 75 ms per level, interleaved, so a burst of outside load hits every level.
    for (let round = 0; round < 20; round++) {
      for (const level of OPTIMIZATION_LEVELS) {
        let n = 0;
        const start = performance.now();
        while (performance.now() - start < 75) {
          const r = withDefaults({ content_description: DESCRIPTION, optimization_level: level, request_id: `e${round}-${n}` });
          engine.generate(r, n % 10);
          n++;
        }
        count[level] = (count[level] ?? 0) + n;
        seconds[level] = (seconds[level] ?? 0) + (performance.now() - start) / 1000;
      }
    }
    const perSecond = Object.fromEntries(OPTIMIZATION_LEVELS.map((l) => [l, count[l]! / seconds[l]!]));
    const baseline = perSecond.ultra_fast!;
    for (const level of OPTIMIZATION_LEVELS) {
      rows.push([`engine generations/s, ${level}`, fmt(perSecond[level]!, 0), fmt(baseline, 0), fmt(perSecond[level]! / baseline, 2)]);
    }
  });

  it('engine only: variations/s per language, the offline engine against 1.1.0 in the same run', async () => {
    const current = new TemplateCaptionEngine();
    const old = await loadOldEngine();
    const engines: Array<[string, Pick<SyncCaptionEngine, 'generate' | 'name' | 'languages'>]> = [[current.name, current]];
    if ('engine' in old) engines.push([`${old.engine.name} (${old.rev})`, old.engine]);
    else console.log(`old engine not measured: ${old.reason}`);
    const totals = new Map<string, { n: number; s: number }>();
    // Warm-up, not counted: the first requests compile the parsers and fill the sentence cache.
    for (const [, engine] of engines) {
      for (const language of Object.keys(DESCRIPTIONS)) if (engine.languages.includes(language as Language)) variationsPerSecond(engine, language, 75, 'warm');
    }
    // Interleaved rounds: outside load falls on every language and both engines alike.
    for (let round = 0; round < LANGUAGE_ROUNDS; round++) {
      for (const [name, engine] of engines) {
        for (const language of Object.keys(DESCRIPTIONS)) {
          if (!engine.languages.includes(language as Language)) continue;
          const { n, s } = variationsPerSecond(engine, language, 75, `l${round}`);
          const t = totals.get(`${name}|${language}`) ?? { n: 0, s: 0 };
          totals.set(`${name}|${language}`, { n: t.n + n, s: t.s + s });
        }
      }
    }
    const rate = (name: string, language: string) => {
      const t = totals.get(`${name}|${language}`);
      return t ? t.n / t.s : undefined;
    };
    const oldName = engines[1]?.[0];
    for (const language of Object.keys(DESCRIPTIONS)) {
      const now = rate(current.name, language)!;
      // Against 1.1.0 in the same language where it had one, else against 1.1.0's English.
      const base = oldName ? (rate(oldName, language) ?? rate(oldName, 'english')) : undefined;
      const against = oldName && rate(oldName, language) !== undefined ? language : 'english';
      rows.push([
        `offline engine variations/s, ${language} (balanced; baseline: 1.1.0 ${against})`,
        fmt(now, 0),
        base === undefined ? 'n/a' : fmt(base, 0),
        base === undefined ? 'n/a' : fmt(now / base, 2),
      ]);
    }
  });

  it('stream: time to first item for 5 and 100 variations', async () => {
    const runs = 20;
    const ttfi: Record<number, number[]> = { 5: [], 100: [] };
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first, and let a cancelled stream wind down, so neither size pays for the other.
      for (const n of i % 2 === 0 ? [5, 100] : [100, 5]) {
        ttfi[n]!.push(await timeToFirstItem(`${base}/stream-captions?variations=${n}`, `ttfi-${n}-${i}`));
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const m5 = median(ttfi[5]!);
    const m100 = median(ttfi[100]!);
    rows.push([`stream time to first item, 5 variations (median of ${runs}, ms)`, fmt(m5, 2), fmt(m5, 2), '1.00']);
    rows.push([`stream time to first item, 100 variations (median of ${runs}, ms)`, fmt(m100, 2), fmt(m5, 2), fmt(m100 / m5, 2)]);
  });

  it('stream: compressed against identity bytes for 100 NDJSON variations', async () => {
    const url = `${base}/stream-captions?variations=100`;
    const identity = await wireBytes(url, 'identity', 'bytes');
    const gzip = await wireBytes(url, 'gzip', 'bytes');
    const br = await wireBytes(url, 'br', 'bytes');
    rows.push(['100-variation NDJSON stream, identity bytes (baseline)', String(identity), String(identity), '1.00']);
    rows.push(['same stream, gzip bytes (flushed per chunk)', String(gzip), String(identity), fmt(gzip / identity, 2)]);
    rows.push(['same stream, br bytes (quality 4, flushed per chunk)', String(br), String(identity), fmt(br / identity, 2)]);
  });
});
