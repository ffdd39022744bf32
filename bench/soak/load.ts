// `node --import ./scripts/swc-register.mjs bench/soak/load.ts '<json LoadPlan>'`: the soak's mixed
// load, autocannon (a real HTTP client, closed loop: each connection sends its next request when
// the last is answered) in a process of its own, one autocannon instance per route so every answer
// is timed under its route. Prints one JSON line per finished minute of the run
// (`{"type":"minute","rows":[RouteMinute…]}`), then `{"type":"done"}`.
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { MinuteRecorder } from './stats.js';

export interface LoadPlan {
  url: string;
  apiKey: string;
  /** The run's start (epoch ms): minutes are counted from it, as the runner counts them. */
  t0: number;
  seconds: number;
  /** Connections per route; 0 leaves a route out. */
  lanes: Partial<Record<LoadRoute, number>>;
  /** Requests per second over all connections of a route (closed loop when absent). */
  ratePerLane?: number;
  /** A label prefixed to route names (`healthy:` in the slow-client run). */
  label?: string;
}

export type LoadRoute = 'captions' | 'history' | 'export' | 'batch' | 'stats';

const API = '/api/v14/lazy';
const SUBJECTS = ['a sunset hike in the mountains', 'homemade pasta on a rainy evening', 'our new studio opening downtown', 'a first marathon finish line', 'morning coffee at the market'];
const STYLES = ['casual', 'professional', 'playful', 'storytelling', 'minimalist'];
let n = 0;
/** A description that differs each time, so every caption is drafted (and stored), not served from a cache. */
const description = () => `${SUBJECTS[n++ % SUBJECTS.length]} number ${n} ${randomUUID().slice(0, 8)}`;
const captionBody = () => ({ content_description: description(), style: STYLES[n % STYLES.length], variation_count: 1 + (n % 3), user_id: `soak_user_${n % 50}` });

function requestsFor(route: LoadRoute): Parameters<typeof autocannon>[0]['requests'] {
  const json = { 'content-type': 'application/json' };
  switch (route) {
    case 'captions':
      return [{ method: 'POST', path: `${API}/captions`, headers: json, setupRequest: (r) => ({ ...r, body: JSON.stringify(captionBody()) }) }];
    case 'history':
      // Pages near the head (the common case), some by user, with and without the total.
      return [
        {
          method: 'GET',
          setupRequest: (r) => {
            const k = n++;
            const path = k % 3 === 0 ? `${API}/caption-history?page=${1 + (k % 20)}&page_size=50` : k % 3 === 1 ? `${API}/caption-history?user_id=soak_user_${k % 50}&page_size=20` : `${API}/caption-history?page_size=100&include_total=false`;
            return { ...r, path };
          },
        },
      ];
    case 'export':
      // One user's rows of the last minute: a steady size (a few hundred rows), where a whole-table
      // export would grow with the run; each opens and closes a read connection and a cursor.
      return [
        {
          method: 'GET',
          setupRequest: (r) => ({ ...r, path: `${API}/caption-history/export?format=${n % 2 ? 'ndjson' : 'csv'}&user_id=soak_user_${n++ % 50}&date_from=${new Date(Date.now() - 60_000).toISOString()}` }),
        },
      ];
    case 'batch':
      return [
        {
          method: 'POST',
          path: `${API}/batch-process?chunk_size=10`,
          headers: json,
          setupRequest: (r) => ({ ...r, body: JSON.stringify({ requests: Array.from({ length: 5 }, () => ({ ...captionBody(), variation_count: 1 })), max_concurrent: 5 }) }),
        },
      ];
    case 'stats':
      // The monitoring reads a dashboard makes (the probes are sampled by the runner, at a probe's pace).
      return [{ method: 'GET', setupRequest: (r) => ({ ...r, path: n++ % 2 ? `${API}/cache/status` : `${API}/stats` }) }];
  }
}

// The runner went away: nothing left to report to.
process.stdout.on('error', () => process.exit(1));

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2]!) as LoadPlan;
  const rec = new MinuteRecorder(plan.t0);
  const runs: Array<Promise<void>> = [];
  for (const [route, connections] of Object.entries(plan.lanes) as Array<[LoadRoute, number]>) {
    if (!connections) continue;
    const name = `${plan.label ?? ''}${route}`;
    const instance = autocannon({
      url: plan.url,
      connections,
      duration: plan.seconds,
      // A request under full load may wait long for its turn; an answer within a minute is late, not lost.
      timeout: 60,
      headers: { 'x-api-key': plan.apiKey, 'accept-encoding': 'identity' },
      requests: requestsFor(route),
      overallRate: plan.ratePerLane,
      skipAggregateResult: true,
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => rec.record(name, ms, status));
    instance.on('reqError', (err: Error) => rec.record(name, 0, 0, err.message || String(err)));
    runs.push(new Promise<void>((done) => instance.once('done', () => done())));
  }
  let reported = 0;
  const report = (through: number) => {
    const rows = rec.rows(through);
    if (rows.length) process.stdout.write(`${JSON.stringify({ type: 'minute', rows })}\n`);
    rec.drop(through);
    reported = through;
  };
  const timer = setInterval(() => {
    const finished = rec.minuteOf(Date.now()) - 1;
    if (finished > reported) report(finished);
  }, 1000);
  await Promise.all(runs);
  clearInterval(timer);
  report(Infinity);
  process.stdout.write(`${JSON.stringify({ type: 'done' })}\n`);
}

await main();
