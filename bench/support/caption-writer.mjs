// A caption writer in a process of its own (bench/history-live.bench.ts): POST /captions at
// RATE requests a second to random users, each a new request of 3 variations, until SIGTERM;
// then prints `WROTE <ok> <failed>` once every request in flight has been answered.
// Usage: node caption-writer.mjs BASE_URL RATE USERS
import { performance } from 'node:perf_hooks';

const [base, rateArg, usersArg] = process.argv.slice(2);
const rate = Number(rateArg);
const users = Number(usersArg);
let sent = 0;
let ok = 0;
let failed = 0;
const pending = new Set();

async function write(n) {
  const res = await fetch(`${base}/captions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      content_description: `Bench write ${n} of a sunny terrace cafe`,
      user_id: `user_${Math.floor(Math.random() * users)}`,
      request_id: `live-w${process.pid}-${n}`,
      variation_count: 3,
    }),
  });
  await res.arrayBuffer();
  if (res.status === 200) ok++;
  else failed++;
}

// Paced by the clock, not by answers: a slow server gets the same offered load.
const started = performance.now();
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - started) / 1000) * rate);
  while (sent < due) {
    const p = write(sent++).catch(() => failed++);
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
}, 5);

process.on('SIGTERM', async () => {
  clearInterval(timer);
  await Promise.all(pending);
  process.stdout.write(`WROTE ${ok} ${failed}\n`);
  process.exit(0);
});
process.stdout.write('STARTED\n');
