// The security review's high findings, attacked all at once against the real server process (the
// entry point, compiled on the fly), while an ordinary client in a process of its own measures
// liveness and caption latency:
//   - a ~1 MB run of `<` as `content_description` (the markup rule was quadratic on it) → 422;
//   - NDJSON decompression bombs on POST /batch-process (blank lines, one endless line, more than
//     BATCH_NDJSON_MAX_BYTES decoded at an ordinary ratio; gzip and brotli) → 413 each;
//   - fast SQLite exports (one held the event loop for its whole length), exports past the caps
//     (→ 429), and stalled exports (→ ended by the idle timeout).
// It checks that latency stays within a multiple of the quiet baseline measured in the same run,
// that every attack got its answer, that the server's memory stays within what the caps allow, and
// that afterwards it still answers and has every export slot free again.
//
// The attack keeps every kind of request coming for as long as the fast exports run: each attacker
// lane sends its next request as soon as the previous one is answered, from an address of its own
// (as a spread-out attacker would), at most PER_LANE of them. The rate limiter runs with its
// defaults: that stays far inside each address's budget, so every attack reaches the code it aims
// at (RATE_LIMIT_MAX=0 is not needed).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHistoryDatabase } from '../src/history/history-database.js';
import { KyselyHistoryRepository } from '../src/history/kysely-history.repository.js';
import { seedRows } from '../src/history/seed-rows.js';
import { openExport, orFailAfter, type OpenedExport } from './support/export-clients.js';
import { freePort } from './support/free-port.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROBE = fileURLToPath(new URL('./support/latency-probe.mjs', import.meta.url));
const P = '/api/v14/lazy';
const MiB = 1024 * 1024;

// About 50 MB of NDJSON: an export read as fast as loopback allows takes a few seconds alone.
const ROWS = 150_000;
const IDLE_TIMEOUT_MS = 1500;
/**
 * BATCH_NDJSON_MAX_BYTES of the server under test. At its default (64 MiB) an upload that reaches
 * it is 4,096 decoded chunks, each waiting for a turn of the event loop shared with the exports:
 * on a busy 2-core machine it took longer than the whole attack. The cap is the same code at any size.
 */
const MAX_BYTES = 2 * MiB;
/** How long an attack request may take to be answered, its upload and the server's turns included. */
const ATTACK_REQUEST_TIMEOUT_MS = 30_000;
/** How long one request may take on the quiet server before the attack (a quadratic check takes hours). */
const WARM_REQUEST_TIMEOUT_MS = 10_000;
const BOMB_LANES = 8;
const MARKUP_LANES = 1;
const PER_LANE = 400;
/** Longest the attack may run: a server held by one request fails the checks instead of hanging the suite. */
const ATTACK_DEADLINE_MS = 60_000;
const WARMUP_MS = 2000;
const QUIET_MS = 4000;
/**
 * The attack lasts at least as long as a quiet phase, so the probe samples it as often: exports run
 * at database speed now and may end well before that; the other attacks go on until it has passed.
 */
const ATTACK_MIN_MS = QUIET_MS;
const LATENCY_FACTOR = 3;
/**
 * The floor of the baseline p99, per probe. On loopback a quiet p99 can be a few milliseconds, a
 * figure that timer granularity and one scheduler time slice on a 2-core machine shared with other
 * work decide: three times it would measure the machine, not the server. And under this attack one
 * turn of the event loop may, by design, hold the running streams' shared budget (10 ms) and the
 * synchronous work of the requests read in that turn: a body at the 1 MiB limit parsed (about 10 ms
 * here), a caption drafted (a few ms), an upload's decoded chunk checked. Liveness is answered in
 * the turn that reads it: a correct server may keep it some 60 ms before the machine adds delays of
 * its own. A caption waits for three such turns (its body read; its draft; the group commit that
 * records it before the answer), so some 120 ms. Those were the floors (60 and 120 ms) until the
 * machine's own share showed: with every attack at once on 2 cores, a correct server's p99 under
 * attack read 126-186 ms for liveness and 303-371 ms for captions in three runs (one CI run past
 * three times both floors). So the floors are 150 and 300 ms: the bounds, 450 ms (under half a
 * kubelet's default 1 s liveness timeout) and 900 ms, stay clear of that spread and still far below
 * what one export, regex or bomb that holds the loop for its whole length costs: seconds.
 */
const BASELINE_FLOOR_MS = { live: 150, captions: 300 } as const;
/**
 * Peak growth of the server's RSS over its idle RSS. What the caps let the attacks hold at once:
 * - 4 exports (EXPORT_MAX_CONCURRENT), each a read-only SQLite connection (2 MiB page cache), a
 *   chunk of 200 rows and a socket buffer, since the stream waits for `drain`: ~3 MiB, 12 MiB;
 * - 8 bombs, each a decoder (brotli's 4 MiB window at the encoder's default, gzip's 32 KiB), a few
 *   16 KiB stream buffers and at most one line of BODY_LIMIT_BYTES (1 MiB): ~5 MiB, 41 MiB;
 * - one 1 MiB JSON body: its bytes, its text and the parsed string, ~3 MiB;
 * - the caption probe's drafts: the offline engine parses each description and checks each
 *   sentence (compromise documents, eld), keeping up to 20,000 checked sentences (~10 MiB) and
 *   leaving several MiB of parse garbage per draft; at the attack's draft rate ~30 MiB more;
 * so ~100 MiB live or young. V8 frees garbage only at its next collection: the young generation
 * alone can hold some 48 MiB (three 16 MiB semi-spaces), and the old one grows by a factor of its
 * live size before it is collected; add the allocator arenas of the zlib threads and some 250 MiB
 * can be resident at a peak, rounded up to 320 (267 was seen once with the parsing engine). A bomb decoded whole (8 × 64 MiB) or the stalled exports
 * buffered whole (35 MB of text each, twice that as strings) would pass it.
 */
const RSS_GROWTH_BOUND_MIB = 320;

const EXPORTER_A = '127.0.0.2';
const EXPORTER_B = '127.0.0.3';
const EXPORTER_C = '127.0.0.4';
const PROBE_ADDRESS = '127.0.0.9';
const laneAddress = (lane: number) => `127.0.1.${lane + 1}`;

interface Answer {
  status: number;
  text: string;
}
type Bomb = { name: string; encoding: string; body: Buffer; message: string };
type Read = { lines: number; outcome: 'ended' | 'cut' };

/** One request on its own connection; status 0 (and the error as text) when it failed or timed out. */
function send(port: number, method: string, path: string, opts: { body?: Buffer; headers?: Record<string, string>; localAddress?: string; timeoutMs?: number } = {}): Promise<Answer> {
  // A connection of its own each, as an attacker opens them.
  return new Promise((resolve) => {
    const headers = { ...opts.headers, ...(opts.body ? { 'content-length': String(opts.body.length) } : {}) };
    const req = request({ host: '127.0.0.1', port, method, path, headers, localAddress: opts.localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      res.on('error', done);
    });
    req.setTimeout(opts.timeoutMs ?? ATTACK_REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    // The server answers an upload early and may close while the body is still being sent: an
    // error after the answer arrived changes nothing (a promise settles once).
    req.on('error', (err) => resolve({ status: 0, text: err.message }));
    req.end(opts.body);
  });
}

const json = (body: unknown) => ({ body: Buffer.from(JSON.stringify(body)), headers: { 'content-type': 'application/json' } });

/** Reads an opened export to its end: how many lines, and whether it ended or was cut. */
function readAll(opened: OpenedExport): Promise<Read> {
  let lines = 0;
  return new Promise((resolve) => {
    opened.res.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
    });
    opened.res.once('end', () => resolve({ lines, outcome: 'ended' }));
    opened.res.once('error', () => resolve({ lines, outcome: 'cut' }));
    opened.res.once('aborted', () => resolve({ lines, outcome: 'cut' }));
    opened.res.resume();
  });
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** The resident set of a process in MiB, NaN once it is gone. */
function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
  } catch {
    return NaN;
  }
}

/** The bombs, built once: each decodes to far more than the server may read of it. */
function bombs(): Bomb[] {
  const newlines = Buffer.alloc(64 * MiB, '\n');
  const spaces = Buffer.alloc(64 * MiB, ' ');
  // Runs of spaces broken by a random letter and no line end: about 20:1 under gzip, an ordinary
  // ratio, so only BATCH_NDJSON_MAX_BYTES stops it.
  const text = Buffer.alloc(MAX_BYTES + MiB, ' ');
  for (let i = 40; i < text.length; i += 41) text[i] = 97 + Math.floor(Math.random() * 26);
  return [
    { name: 'blank lines, br', encoding: 'br', body: brotliCompressSync(newlines), message: 'more than 100000 lines' },
    { name: 'blank lines, gzip', encoding: 'gzip', body: gzipSync(newlines), message: 'more than 100000 lines' },
    { name: 'one line, br', encoding: 'br', body: brotliCompressSync(spaces), message: 'expands more than 100 times' },
    { name: 'one line, gzip', encoding: 'gzip', body: gzipSync(spaces), message: 'expands more than 100 times' },
    { name: 'over max bytes, gzip', encoding: 'gzip', body: gzipSync(text, { level: 1 }), message: `larger than ${MAX_BYTES} bytes` },
  ];
}

const uploadHeaders = (bomb: Bomb) => ({ 'content-type': 'application/x-ndjson', 'content-encoding': bomb.encoding, accept: 'application/x-ndjson' });

describe('hardening attacks together (slow)', () => {
  let dataDir: string;
  let server: ChildProcess | undefined;
  let probe: ChildProcess | undefined;
  let port: number;
  let sampler: NodeJS.Timeout | undefined;
  let stderr = '';
  const opened: OpenedExport[] = [];
  const open = async (localAddress: string) => {
    const e = await openExport(port, { localAddress });
    opened.push(e);
    return e;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'captions-attacks-'));
    // Seeded before the server starts, through the repository it uses.
    const repo = new KyselyHistoryRepository(openHistoryDatabase(`sqlite:${join(dataDir, 'history.sqlite')}`));
    await repo.migrate();
    const plan = { rows: ROWS, users: 500, days: 90, endMs: Date.UTC(2026, 10, 24) };
    for (let done = 0; done < ROWS; done += 20_000) await repo.insertMany(seedRows(plan, done, 20_000));
    await repo.close();

    port = await freePort();
    server = spawn(process.execPath, ['--import', './scripts/swc-register.mjs', 'src/main.ts'], {
      cwd: ROOT,
      // Drafting on the event loop (CAPTION_WORKERS=0), as the floor above reasons: with a drafting
      // thread, a caption also waits for a thread that shares two cores with every attacker, which
      // measures the machine's scheduler, not whether an attack holds the loop (seconds).
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, SHUTDOWN_DELAY_MS: '0', EXPORT_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS), BATCH_NDJSON_MAX_BYTES: String(MAX_BYTES), CAPTION_WORKERS: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const until = performance.now() + 60_000;
    while ((await send(port, 'GET', `${P}/health/live`, { timeoutMs: 1000 })).status !== 200) {
      if (server.exitCode !== null || performance.now() > until) throw new Error(`the server did not start: ${stderr}`);
      await sleep(100);
    }
  }, 120_000);

  afterAll(() => {
    clearInterval(sampler);
    for (const e of opened) e.req.destroy();
    for (const child of [probe, server]) if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps latency, answers and memory within the caps while every attack runs at once', { timeout: 180_000 }, async () => {
    const pid = server!.pid!;
    const payloads = bombs();
    const markup = json({ content_description: '<'.repeat(1_000_000) });

    // Every route the attacks and the probe use runs once before anything is measured (modules
    // load and compile on first use), each one alone on the quiet server: answered, and soon.
    const warm = async (what: string, expected: number, method: string, path: string, opts: { body?: Buffer; headers?: Record<string, string> } = {}) => {
      const answer = await send(port, method, path, { ...opts, timeoutMs: WARM_REQUEST_TIMEOUT_MS });
      expect(answer.status, `${what} alone: ${answer.text.slice(0, 300)}`).toBe(expected);
    };
    for (const bomb of payloads) await warm(bomb.name, 413, 'POST', `${P}/batch-process`, { body: bomb.body, headers: uploadHeaders(bomb) });
    await warm('the 1 MB run of <', 422, 'POST', `${P}/captions`, markup);
    await warm('an empty export', 200, 'GET', `${P}/caption-history/export?format=ndjson&user_id=nobody`);
    for (let i = 0; i < 20; i++) {
      await warm('a caption request', 200, 'POST', `${P}/captions`, json({ content_description: 'Warm bread on a cold morning', variation_count: 1, request_id: `warm-${i}` }));
    }

    // The server's memory every 20 ms, by phase.
    let phase = 'warmup';
    const rss: Array<{ phase: string; mib: number }> = [];
    sampler = setInterval(() => rss.push({ phase, mib: rssMiB(pid) }), 20);
    probe = spawn(process.execPath, [PROBE, `http://127.0.0.1:${port}${P}`, PROBE_ADDRESS], { stdio: ['pipe', 'pipe', 'inherit'] });
    let report = '';
    probe.stdout!.on('data', (c: Buffer) => (report += c.toString()));
    const probeExited = once(probe, 'exit');
    const toPhase = (name: string) => {
      phase = name;
      probe!.stdin!.write(`phase ${name}\n`);
    };
    await sleep(WARMUP_MS);
    toPhase('quiet');
    await sleep(QUIET_MS);

    // --- the attack ---
    toPhase('attack');
    const attackStarted = performance.now();
    const deadline = attackStarted + ATTACK_DEADLINE_MS;
    // Two exports left stalled and two to be read as fast as they come fill the four slots, two per
    // client; then one more for a client that runs two, and one for a new client while the service
    // runs four (all before any export is read, well within the idle timeout).
    const stalled = [await open(EXPORTER_A), await open(EXPORTER_B)];
    const fast = [await open(EXPORTER_A), await open(EXPORTER_B)];
    const pastClientCap = await open(EXPORTER_A);
    const pastServiceCap = await open(EXPORTER_C);
    const fastReads = Promise.all(fast.filter((e) => e.status === 200).map(readAll));
    let exporting = true;
    void fastReads.finally(() => (exporting = false));

    // Attacker lanes, one request at a time each, for as long as the fast exports run (and at least ATTACK_MIN_MS).
    const attacking = () => (exporting || performance.now() - attackStarted < ATTACK_MIN_MS) && performance.now() < deadline;
    const bombAnswers: Array<{ bomb: Bomb; answer: Answer }> = [];
    const markupAnswers: Answer[] = [];
    const bombLane = async (lane: number) => {
      for (let n = 0; n < PER_LANE && attacking(); n++) {
        const bomb = payloads[(lane + n) % payloads.length]!;
        bombAnswers.push({ bomb, answer: await send(port, 'POST', `${P}/batch-process`, { body: bomb.body, headers: uploadHeaders(bomb), localAddress: laneAddress(lane) }) });
      }
    };
    const markupLane = async (lane: number) => {
      for (let n = 0; n < PER_LANE && attacking(); n++) {
        markupAnswers.push(await send(port, 'POST', `${P}/captions`, { ...markup, localAddress: laneAddress(BOMB_LANES + lane) }));
      }
    };
    await Promise.all([...Array.from({ length: BOMB_LANES }, (_, l) => bombLane(l)), ...Array.from({ length: MARKUP_LANES }, (_, l) => markupLane(l))]);
    const fastOutcomes = await orFailAfter(fastReads, Math.max(1000, deadline - performance.now()), 'the fast exports did not end');
    const attackMs = performance.now() - attackStarted;

    // --- afterwards: the stalled exports were cut long ago, the last attack answered ---
    toPhase('after');
    await sleep(1000);
    toPhase('quiet-again');
    await sleep(QUIET_MS);
    probe.stdin!.write('stop\n');
    await orFailAfter(probeExited, 30_000, 'the latency probe did not stop');
    clearInterval(sampler);
    const measured = JSON.parse(report) as { phases: Record<string, Record<'live' | 'captions', Array<[ms: number, status: number, error?: string]>>> };

    // The stalled exports were ended by the server: read now, each is cut short.
    const stalledOutcomes = await Promise.all(stalled.map((e) => orFailAfter(readAll(e), 20_000, 'a stalled export was never ended')));
    const metrics = await send(port, 'GET', '/metrics');
    const idleEndings = /http_streams_ended_total\{route="GET \/caption-history\/export",outcome="idle_timeout"\} (\d+)/.exec(metrics.text)?.[1];
    // Still serving, with every export slot free again: four at once get 200, a fifth 429.
    const liveAfter = await send(port, 'GET', `${P}/health/live`);
    const captionsAfter = await send(port, 'POST', `${P}/captions`, json({ content_description: 'A quiet street after the storm', variation_count: 1, request_id: 'after-attacks' }));
    const again: OpenedExport[] = [];
    for (const address of [EXPORTER_A, EXPORTER_A, EXPORTER_B, EXPORTER_B, EXPORTER_C]) again.push(await open(address));
    for (const e of again) e.req.destroy();

    // --- the figures, printed whether or not the checks pass ---
    const stats = (name: string, kind: 'live' | 'captions') => {
      const samples = measured.phases[name]?.[kind] ?? [];
      const ms = samples.map(([latency]) => latency);
      return { n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: percentile(ms, 100), failed: samples.filter((x) => x[1] !== 200).length };
    };
    const phases = (kind: 'live' | 'captions') => ({ quiet: stats('quiet', kind), attack: stats('attack', kind), after: stats('after', kind), quietAgain: stats('quiet-again', kind) });
    const latency = { live: phases('live'), captions: phases('captions') };
    const idleRss = percentile(rss.filter((s) => s.phase === 'quiet').map((s) => s.mib), 50);
    const peakRss = Math.max(...rss.filter((s) => s.phase === 'attack').map((s) => s.mib));
    const countBy = (answers: Answer[]) => answers.reduce<Record<number, number>>((acc, a) => ({ ...acc, [a.status]: (acc[a.status] ?? 0) + 1 }), {});
    const figures = {
      attack_ms: Math.round(attackMs),
      latency,
      rss_mib: { idle: Math.round(idleRss), peak: Math.round(peakRss), growth: Math.round(peakRss - idleRss) },
      bombs: countBy(bombAnswers.map((b) => b.answer)),
      bombs_not_413: bombAnswers.filter((b) => b.answer.status !== 413).map((b) => `${b.bomb.name}: ${b.answer.status} ${b.answer.text.slice(0, 200)}`),
      markup: countBy(markupAnswers),
      probe_failures: Object.values(measured.phases).flatMap((p) => [...p.live, ...p.captions]).filter((x) => x[1] !== 200).slice(0, 10),
      exports: {
        opened: [...stalled, ...fast].map((e) => e.status),
        past_caps: [pastClientCap.status, pastServiceCap.status],
        fast: fastOutcomes,
        stalled: stalledOutcomes,
        idle_timeout_endings: idleEndings,
        afterwards: again.map((e) => e.status),
      },
    };
    console.log(JSON.stringify(figures));
    const why = JSON.stringify(figures);

    // (a) Latency within a multiple of the quiet baseline; nothing the probe sent failed.
    for (const kind of ['live', 'captions'] as const) {
      const { quiet, attack, after, quietAgain } = latency[kind];
      expect(Math.min(quiet.n, attack.n, quietAgain.n), why).toBeGreaterThanOrEqual(50);
      // Quiet before and after the attack, the larger counting: the machine is shared, and load
      // from elsewhere that arrives during the attack and stays is not the attack's doing.
      const baseline = Math.max(quiet.p99, quietAgain.p99, BASELINE_FLOOR_MS[kind]);
      expect(attack.p99, `${kind} p99 under attack; ${why}`).toBeLessThanOrEqual(LATENCY_FACTOR * baseline);
      expect([quiet.failed, attack.failed, after.failed, quietAgain.failed], `${kind} requests that failed; ${why}`).toEqual([0, 0, 0, 0]);
    }

    // (b) Every attack got its answer, and every lane attacked.
    expect(bombAnswers.length, why).toBeGreaterThanOrEqual(BOMB_LANES);
    for (const { bomb, answer } of bombAnswers) {
      expect(answer.status, `${bomb.name}: ${answer.text}`).toBe(413);
      expect(JSON.parse(answer.text), bomb.name).toMatchObject({ error: 'payload_too_large', message: expect.stringContaining(bomb.message) });
    }
    expect(markupAnswers.length, why).toBeGreaterThanOrEqual(MARKUP_LANES);
    for (const answer of markupAnswers) {
      expect(answer.status, answer.text.slice(0, 300)).toBe(422);
      expect(JSON.parse(answer.text)).toMatchObject({ error: 'validation_failed', message: expect.stringContaining('content_description') });
    }
    expect([...stalled, ...fast].map((e) => e.status), why).toEqual([200, 200, 200, 200]);
    expect([pastClientCap.status, pastServiceCap.status], why).toEqual([429, 429]);
    expect([pastClientCap.res.headers['retry-after'], pastServiceCap.res.headers['retry-after']]).toEqual(['5', '5']);
    expect(pastClientCap.body?.message).toMatch(/^You already run 2 exports at once/);
    expect(pastServiceCap.body?.message).toMatch(/^The service already runs 4 exports at once/);
    // Every seeded row (plus the captions the probe recorded meanwhile); the stalled ones cut short.
    for (const read of fastOutcomes) expect(read.outcome === 'ended' && read.lines >= ROWS, why).toBe(true);
    for (const read of stalledOutcomes) expect(read.outcome === 'cut' && read.lines < ROWS, why).toBe(true);
    expect(idleEndings, why).toBe('2');

    // (c) Memory within what the caps allow.
    expect(peakRss - idleRss, why).toBeLessThanOrEqual(RSS_GROWTH_BOUND_MIB);

    // Afterwards: still answering, and no export slot left taken.
    expect([liveAfter.status, captionsAfter.status], captionsAfter.text).toEqual([200, 200]);
    expect(again.map((e) => e.status), why).toEqual([200, 200, 200, 200, 429]);
  });
});
