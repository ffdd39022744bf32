import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptionsService } from '../src/captions/captions.service.js';
import { withDefaults } from '../src/captions/dto/caption-generation-request.dto.js';
import { CaptionEngineSelection } from '../src/captions/engine/engine-selection.js';
import { LazyLoaderService } from '../src/lazy-loader/lazy-loader.service.js';
import { FakeChatCompletions } from '../test/support/fake-chat-completions.js';
import { createTestApp, type TestApp } from '../test/support/test-app.js';

/**
 * `npm run bench -- captions` (this file's part): the LLM engine against a loopback model.
 * - a cached LLM draft (memory tier, disk tier) against the fixture model's own latency;
 * - POST /captions req/s with the breaker open (the offline engine answering with
 *   fallback_reason) against a server that only has the offline engine (goal ≥ 0.9).
 * Knobs: BENCH_LLM_SAMPLES (latency samples per row, default 300), BENCH_LLM_DELAY_MS (delay the
 * fixture model adds to each answer, default 0: the baseline is then the protocol alone, the
 * hardest one to beat), BENCH_LLM_SECONDS (seconds per autocannon round, default 2, 3 rounds).
 */
const run = promisify(execFile);
const SAMPLES = Number(process.env.BENCH_LLM_SAMPLES ?? 300);
const DELAY_MS = Number(process.env.BENCH_LLM_DELAY_MS ?? 0);
const SECONDS = Number(process.env.BENCH_LLM_SECONDS ?? 2);
const DESCRIPTION = 'Sunset hike up the ridge with friends, golden hour over the valley';
const rows: Array<[string, string, string, string]> = [];
const fmt = (n: number, digits = 1) => n.toFixed(digits);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function autocannon(url: string, body: string): Promise<number> {
  const args = ['node_modules/autocannon/autocannon.js', '-j', '-c', '10', '-d', String(SECONDS), '-m', 'POST', '-H', 'content-type=application/json', '-b', body, '-I', url];
  const { stdout } = await run('node', args, { maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout) as { requests: { average: number }; non2xx: number; errors: number };
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

async function listen(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/api/v14/lazy`;
}

describe('captions benchmark: LLM engine', () => {
  const model = new FakeChatCompletions();
  let llmUrl: string;
  beforeAll(async () => {
    llmUrl = await model.start();
    const good = model.fallback;
    model.fallback = DELAY_MS > 0 && 'reply' in good ? { ...good, delayMs: DELAY_MS } : good;
  });
  afterAll(async () => {
    await model.stop();
    console.log(`\ncaptions benchmark, LLM engine (Node ${process.version}, ${new Date().toISOString()}, fixture delay ${DELAY_MS} ms, ${SAMPLES} samples)\n`);
    const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['measure', 'value', 'baseline', 'ratio'][i]!.length));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(line(['measure', 'value', 'baseline', 'ratio']));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
  });

  it('a cached LLM draft (memory, disk) against the fixture model answering the same draft', async () => {
    const llmEnv = { LLM_BASE_URL: llmUrl, LLM_MODEL: 'bench-model', RATE_LIMIT_MAX: '0' };
    // One chunk in memory: reading two requests in turn makes every read of the other a disk hit.
    const memory = await createTestApp({ env: llmEnv });
    const disk = await createTestApp({ env: { ...llmEnv, LAZY_MAX_CHUNKS_IN_MEMORY: '1', LAZY_ENABLE_DISK_CACHE: 'true' } });
    try {
      const request = (id: string) => withDefaults({ content_description: DESCRIPTION, variation_count: 3, request_id: id });
      const llm = memory.app.get(CaptionEngineSelection).llm!;
      const signal = new AbortController().signal;
      const direct: number[] = [];
      const fromMemory: number[] = [];
      const fromDisk: number[] = [];
      const service = memory.app.get(CaptionsService);
      const diskService = disk.app.get(CaptionsService);
      await service.generate(request('m'));
      await diskService.generate(request('a'));
      await diskService.generate(request('b'));
      const loader = disk.app.get(LazyLoaderService);
      const diskHitsBefore = loader.getStats().disk_cache_hits;
      for (let i = 0; i < SAMPLES; i++) {
        // Interleaved, so outside load on the machine falls on each row alike.
        let t0 = performance.now();
        const drafts = await llm.draftVariations(request(`direct-${i}`), { first: 0, count: 3 }, signal);
        direct.push(performance.now() - t0);
        expect(drafts.fallback_reason).toBeUndefined();
        t0 = performance.now();
        expect((await service.generate(request('m'))).cache_hit).toBe(true);
        fromMemory.push(performance.now() - t0);
        t0 = performance.now();
        expect((await diskService.generate(request(i % 2 === 0 ? 'a' : 'b'))).cache_hit).toBe(true);
        fromDisk.push(performance.now() - t0);
      }
      expect(loader.getStats().disk_cache_hits - diskHitsBefore).toBe(SAMPLES);
      const base50 = pct(direct, 50);
      const base99 = pct(direct, 99);
      rows.push(['fixture LLM draft, 3 variations, p50 ms (baseline)', fmt(base50, 2), fmt(base50, 2), '1.00']);
      rows.push(['fixture LLM draft, 3 variations, p99 ms (baseline)', fmt(base99, 2), fmt(base99, 2), '1.00']);
      rows.push(['cached LLM draft from memory, p50 ms', fmt(pct(fromMemory, 50), 3), fmt(base50, 2), fmt(pct(fromMemory, 50) / base50, 3)]);
      rows.push(['cached LLM draft from memory, p99 ms', fmt(pct(fromMemory, 99), 3), fmt(base99, 2), fmt(pct(fromMemory, 99) / base99, 3)]);
      rows.push(['cached LLM draft from disk, p50 ms', fmt(pct(fromDisk, 50), 3), fmt(base50, 2), fmt(pct(fromDisk, 50) / base50, 3)]);
      rows.push(['cached LLM draft from disk, p99 ms', fmt(pct(fromDisk, 99), 3), fmt(base99, 2), fmt(pct(fromDisk, 99) / base99, 3)]);
    } finally {
      await memory.close();
      await disk.close();
    }
  });

  it('POST /captions req/s with the breaker open (offline fallback) against the offline engine alone', async () => {
    const down = new FakeChatCompletions();
    down.fallback = { status: 503 };
    const downUrl = await down.start();
    const offline = await createTestApp({ env: { RATE_LIMIT_MAX: '0' } });
    const broken = await createTestApp({
      env: { LLM_BASE_URL: downUrl, LLM_MODEL: 'down', LLM_MAX_RETRIES: '0', LLM_BREAKER_THRESHOLD: '1', LLM_BREAKER_COOLDOWN_MS: '3600000', RATE_LIMIT_MAX: '0' },
    });
    try {
      const offlineUrl = await listen(offline);
      const brokenUrl = await listen(broken);
      const body = JSON.stringify({ content_description: DESCRIPTION, variation_count: 3, request_id: '[<id>]' });
      // One failed draft opens the breaker; from then on no request reaches the model.
      const trip = await fetch(`${brokenUrl}/captions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content_description: DESCRIPTION }) });
      expect(((await trip.json()) as { fallback_reason?: { code: string } }).fallback_reason?.code).toBe('llm_unavailable');
      expect(broken.app.get(CaptionEngineSelection).llm!.circuitOpen).toBe(true);
      const asked = down.requests.length;
      let alone = 0;
      let open = 0;
      for (let round = 0; round < 3; round++) {
        alone += (await autocannon(`${offlineUrl}/captions`, body)) / 3;
        open += (await autocannon(`${brokenUrl}/captions`, body)) / 3;
      }
      expect(down.requests.length).toBe(asked);
      rows.push(['POST /captions req/s, offline engine alone (baseline)', fmt(alone), fmt(alone), '1.00']);
      rows.push(['POST /captions req/s, LLM breaker open (fallback, goal >= 0.9)', fmt(open), fmt(alone), fmt(open / alone, 2)]);
    } finally {
      await offline.close();
      await broken.close();
      await down.stop();
    }
  });
});
