// `node latency-probe.mjs <base url> <local address>`: a client in a process of its own that measures
// what an ordinary caller gets from the server while something else loads it. Open loop: a request
// to `GET /health/live` every LIVE_EVERY_MS and a `POST /captions` (a new request id each, so each
// is drafted and stored, never served from the cache) every CAPTIONS_EVERY_MS, each sent on
// schedule whether or not the earlier ones have been answered, so a server that stalls shows in
// every request scheduled during the stall, not in one slow sample. Each has its latency measured
// from the moment it is sent.
//
// Stdin takes one command a line: `phase <name>` tags the requests scheduled from then on;
// `stop` stops scheduling, waits for the requests still out (each ends within TIMEOUT_MS) and
// prints one JSON line: {phases: {<name>: {live: Sample[], captions: Sample[]}}}, a Sample being
// [latency ms, status] or, when the request failed or timed out, [latency ms, 0, error message].
// With no `stop` after MAX_RUN_MS it stops by itself.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const LIVE_EVERY_MS = 10;
const CAPTIONS_EVERY_MS = 40;
const TIMEOUT_MS = 15_000;
const MAX_RUN_MS = 150_000;

const [base, localAddress] = process.argv.slice(2);
const url = new URL(base);
// A pool of POOL kept-alive connections per kind, opened before anything is measured and used in
// turn, as a client with a connection pool. Enough for the schedule while answers take up to
// POOL × the interval (160 ms for liveness); when they take longer, requests wait here for a
// connection, and that wait counts in their latency. Opening connections while the server is busy
// would measure how fast it accepts them, which is another question than how fast it answers.
const POOL = 16;
const pool = () => new Agent({ keepAlive: true, maxSockets: POOL, scheduling: 'fifo' });
const agents = { live: pool(), captions: pool() };

const phases = {};
let phase = 'warmup';
let outstanding = 0;
let sent = 0;

function send(kind, method, path, body) {
  const samples = ((phases[phase] ??= { live: [], captions: [] })[kind]);
  const started = performance.now();
  outstanding += 1;
  let done = false;
  const finish = (status, error) => {
    if (done) return;
    done = true;
    outstanding -= 1;
    samples.push(error === undefined ? [Math.round((performance.now() - started) * 100) / 100, status] : [Math.round((performance.now() - started) * 100) / 100, status, error]);
  };
  const req = request(
    {
      host: url.hostname,
      port: url.port,
      method,
      path: `${url.pathname}${path}`,
      localAddress,
      agent: agents[kind],
      headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode ?? 0));
      res.on('error', (err) => finish(0, err.message));
    },
  );
  req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error('timeout')));
  req.on('error', (err) => finish(0, err.message));
  req.end(body);
}

const captionBody = () =>
  JSON.stringify({
    content_description: 'Morning espresso on a sunny balcony, with fresh pastries',
    variation_count: 1,
    user_id: 'latency-probe',
    request_id: `probe-${process.pid}-${sent++}`,
  });
// Opens the pools: POOL requests of each kind at once (tagged `warmup`).
for (let i = 0; i < POOL; i++) {
  send('live', 'GET', '/health/live');
  send('captions', 'POST', '/captions', captionBody());
}
const live = setInterval(() => send('live', 'GET', '/health/live'), LIVE_EVERY_MS);
const captions = setInterval(() => send('captions', 'POST', '/captions', captionBody()), CAPTIONS_EVERY_MS);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(live);
  clearInterval(captions);
  const until = performance.now() + TIMEOUT_MS + 1000;
  while (outstanding > 0 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  process.stdout.write(`${JSON.stringify({ phases })}\n`);
  agents.live.destroy();
  agents.captions.destroy();
  process.exit(0);
}

createInterface({ input: process.stdin })
  // The parent gone: nobody will read the report.
  .on('close', () => process.exit(0))
  .on('line', (line) => {
    const [command, name] = line.trim().split(/\s+/);
    if (command === 'phase' && name) phase = name;
    if (command === 'stop') void stop();
  });
setTimeout(() => void stop(), MAX_RUN_MS).unref();
