import { Agent, request } from 'node:http';
import { API, SOAK_API_KEY } from './server-process.js';
import type { MinuteRecorder } from './stats.js';

export type StreamKind = 'ndjson' | 'sse' | 'batch-events';

export interface StreamPlan {
  url: string;
  /** How many stream loops run at once. */
  streams: number;
  /** `variations` of each `POST /stream-captions` (1–100): how long each stream lives. */
  variations: number;
  /** Items in each durable batch followed over `GET /batches/{id}/events`. */
  batchItems: number;
}

/** Which kind loop `i` runs: one in ten follows a durable batch's SSE events, the rest alternate NDJSON and SSE captions. */
export function kindOf(i: number): StreamKind {
  if (i % 10 === 9) return 'batch-events';
  return i % 2 === 0 ? 'ndjson' : 'sse';
}

interface Answer {
  status: number;
  body: string;
  error?: string;
}

/** One request, its whole body read as text; `error` when it failed or broke off. */
function send(agent: Agent, url: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, method, path, agent, headers: { 'x-api-key': SOAK_API_KEY, 'accept-encoding': 'identity', ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => resolve({ status: res.statusCode ?? 0, body: '', error: err.message }));
        res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body: '', error: 'response aborted' }));
      },
    );
    // A stream under full load may be slow, never silent this long.
    req.setTimeout(120_000, () => req.destroy(new Error('no byte for 120 s')));
    req.on('error', (err) => resolve({ status: 0, body: '', error: err.message }));
    req.end(body);
  });
}

/** What is wrong with a streamed caption body (undefined when complete). */
function checkCaptionStream(kind: 'ndjson' | 'sse', body: string, variations: number): string | undefined {
  if (kind === 'ndjson') {
    const lines = body.split('\n').filter((l) => l.trim());
    const items = lines.map((l) => JSON.parse(l) as { error?: string; variation_index?: number });
    const failed = items.find((i) => i.error);
    if (failed) return `error item: ${failed.error}`;
    return items.length === variations ? undefined : `${items.length} of ${variations} items`;
  }
  if (/^event: error$/m.test(body)) return 'event: error';
  const count = body.match(/^event: variation$/gm)?.length ?? 0;
  if (!/^event: done$/m.test(body)) return `no done event after ${count} items`;
  return count === variations ? undefined : `${count} of ${variations} items`;
}

/**
 * `plan.streams` loops, each on a kept-alive connection of its own, each opening its next stream
 * as soon as the last one ended, until `stop()`: `POST /stream-captions` as NDJSON or SSE, or a
 * durable batch (`POST /batches`) followed on `GET /batches/{id}/events` to its `ended` event and
 * then read from `GET /batches/{id}/results`. A stream counts as an error unless it ended complete.
 */
export class StreamLoops {
  private stopping = false;
  private readonly loops: Array<Promise<void>> = [];
  private readonly agents: Agent[] = [];
  started = 0;
  active = 0;

  constructor(
    private readonly plan: StreamPlan,
    private readonly rec: MinuteRecorder,
  ) {}

  start(): void {
    for (let i = 0; i < this.plan.streams; i++) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      this.agents.push(agent);
      this.loops.push(this.loop(kindOf(i), agent, i));
    }
  }

  /** Lets each loop finish the stream it is in, then resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const a of this.agents) a.destroy();
  }

  private async loop(kind: StreamKind, agent: Agent, i: number): Promise<void> {
    let k = 0;
    while (!this.stopping) {
      this.started += 1;
      this.active += 1;
      const t = performance.now();
      try {
        if (kind === 'batch-events') await this.batch(agent, i, k++, t);
        else await this.captions(kind, agent, i, k++, t);
      } finally {
        this.active -= 1;
      }
    }
  }

  private async captions(kind: 'ndjson' | 'sse', agent: Agent, i: number, k: number, t: number): Promise<void> {
    const route = `stream-captions ${kind}`;
    const body = JSON.stringify({ content_description: `soak stream ${i} round ${k}: a sunset hike with friends`, user_id: `soak_stream_${i % 50}` });
    const a = await send(agent, this.plan.url, 'POST', `${API}/stream-captions?variations=${this.plan.variations}&chunk_size=1`, { accept: kind === 'ndjson' ? 'application/x-ndjson' : 'text/event-stream' }, body);
    const ms = performance.now() - t;
    if (a.error || a.status !== 200) return this.rec.record(route, ms, a.status, a.error);
    let problem: string | undefined;
    try {
      problem = checkCaptionStream(kind, a.body, this.plan.variations);
    } catch (err) {
      problem = `unreadable body: ${(err as Error).message}`;
    }
    this.rec.record(route, ms, a.status, problem);
  }

  private async batch(agent: Agent, i: number, k: number, t: number): Promise<void> {
    const route = 'batches events';
    const requests = Array.from({ length: this.plan.batchItems }, (_, j) => ({ custom_id: `s${i}-${k}-${j}`, content_description: `soak batch ${i}.${k} item ${j}: homemade pasta night`, variation_count: 1 }));
    const created = await send(agent, this.plan.url, 'POST', `${API}/batches`, {}, JSON.stringify({ requests }));
    if (created.error || created.status !== 202) return this.rec.record(route, performance.now() - t, created.status, created.error ?? (created.status === 202 ? undefined : created.body.slice(0, 200)));
    const id = (JSON.parse(created.body) as { id: string }).id;
    const events = await send(agent, this.plan.url, 'GET', `${API}/batches/${id}/events`, { accept: 'text/event-stream' });
    if (events.error || events.status !== 200) return this.rec.record(route, performance.now() - t, events.status, events.error);
    if (!/^event: ended$/m.test(events.body)) return this.rec.record(route, performance.now() - t, events.status, 'events ended without `ended`');
    const results = await send(agent, this.plan.url, 'GET', `${API}/batches/${id}/results`, { accept: 'application/x-ndjson' });
    const ms = performance.now() - t;
    if (results.error || results.status !== 200) return this.rec.record(route, ms, results.status, results.error);
    const lines = results.body.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { result: { type: string } });
    const ok = lines.length === this.plan.batchItems && lines.every((l) => l.result.type === 'succeeded');
    this.rec.record(route, ms, results.status, ok ? undefined : `results: ${lines.map((l) => l.result.type).join(',')}`);
  }
}
