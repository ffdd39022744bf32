// `npm run bench -- <name>` runs bench/<name>.bench.ts and its parts bench/<name>.<part>.bench.ts
// (compiled on the fly by SWC), one file after the other; `npm run bench` lists what there is.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const available = existsSync('bench')
  ? [...new Set(readdirSync('bench').filter((f) => f.endsWith('.bench.ts')).map((f) => f.split('.')[0]))]
  : [];
const name = process.argv[2];
if (!name) {
  console.log(available.length ? `benchmarks: ${available.join(', ')}` : 'no benchmarks yet');
  process.exit(0);
}
if (!available.includes(name)) {
  console.error(`unknown benchmark "${name}"; have: ${available.join(', ') || 'none'}`);
  process.exit(2);
}
const files = readdirSync('bench')
  .filter((f) => f === `${name}.bench.ts` || (f.startsWith(`${name}.`) && f.endsWith('.bench.ts')))
  .map((f) => `bench/${f}`);
const r = spawnSync('npx', ['vitest', 'run', '--config', 'bench/vitest.bench.config.ts', ...files], {
  stdio: 'inherit',
  env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
});
process.exit(r.status ?? 1);
