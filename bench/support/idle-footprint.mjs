// Where the built service's idle memory goes, component by component (`npm run bench -- http`
// runs it; `node bench/support/idle-footprint.mjs` alone prints the same JSON). Needs dist/.
//
// 1. A child starts dist/main.js with a module-resolution hook and lists the packages it loaded
//    by the time it listens (nothing else: what a route loads on first use is not idle memory).
// 2. A second child, with --expose-gc, imports those packages group by group in a fixed order,
//    then the service's own modules, then creates and starts the app, and reads the memory after
//    a full GC at each step. A step's figure is its growth in RSS less the young generation (which
//    grows with allocation, not with what is kept); the young generation V8 holds at the end is a
//    row of its own. Packages shared by groups count in the first group that loads them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { MessageChannel } from 'node:worker_threads';

/** In load order. A group is measured when the service loaded any of its packages at start. */
export const GROUPS = [
  ['NestJS + Express', ['reflect-metadata', '@nestjs/common', '@nestjs/core', '@nestjs/platform-express', 'express', 'rxjs']],
  ['validation (class-validator, class-transformer)', ['class-validator', 'class-transformer']],
  ['OpenAPI decorators (@nestjs/swagger)', ['@nestjs/swagger']],
  ['JSON logs (nestjs-pino, pino, pino-http)', ['nestjs-pino', 'pino', 'pino-http']],
  ['metrics (prom-client)', ['prom-client']],
  ['probes, schedule, cache, helmet', ['@nestjs/terminus', '@nestjs/schedule', '@nestjs/cache-manager', 'cache-manager', 'keyv', 'lru-cache', 'helmet']],
  ['SQLite + query builder (better-sqlite3, kysely)', ['better-sqlite3', 'kysely']],
  ['PostgreSQL driver (pg, pg-cursor)', ['pg', 'pg-cursor']],
  ['Redis client (ioredis)', ['ioredis']],
  ['job queue (bullmq)', ['bullmq']],
  ['LLM client (openai, cockatiel)', ['openai', 'cockatiel']],
  ['English parser (compromise)', ['compromise']],
  ['language identification (eld)', ['eld/extrasmall']],
];

const MB = 1024 * 1024;
const packageOf = (url) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];

function env(port) {
  return { NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: mkdtempSync(join(tmpdir(), 'idle-footprint-')), LOG_LEVEL: 'silent', API_KEYS: 'idle-footprint' };
}

async function startService(port) {
  Object.assign(process.env, env(port));
  const { loadConfig } = await import(pathToFileURL(resolve('dist/config/app-config.js')).href);
  const { AppModule } = await import(pathToFileURL(resolve('dist/app.module.js')).href);
  const { startServer } = await import(pathToFileURL(resolve('dist/app/server.js')).href);
  const config = loadConfig(process.env);
  return startServer(AppModule.register(config), config);
}

/** Child 1: the packages loaded by a start, as a JSON list on stdout. */
async function listLoaded() {
  const urls = new Set();
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => urls.add(url));
  port1.unref();
  const hooks = `let port; export function initialize(d) { port = d.port; }
export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { port: port2 }, transferList: [port2] });
  const app = await startService(Number(process.argv[3]));
  await new Promise((r) => setTimeout(r, 200));
  // CommonJS packages required by other CommonJS code never pass the ESM hook: the require cache has them.
  const files = [...urls, ...Object.keys(createRequire(import.meta.url).cache)];
  const loaded = [...new Set(files.map(packageOf).filter(Boolean))];
  await app.close();
  rmSync(process.env.DATA_DIR, { recursive: true, force: true });
  process.stdout.write(JSON.stringify(loaded));
  process.exit(0);
}

/** Child 2: memory after each step, as JSON on stdout. */
async function measure() {
  const loaded = new Set(JSON.parse(process.argv[4]));
  const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size;
  const read = () => {
    globalThis.gc();
    globalThis.gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed, young: young() };
  };
  const rows = [];
  let last = read();
  rows.push({ component: 'Node.js runtime', mb: (last.rss - last.young) / MB, heap_mb: last.heap / MB });
  const step = (component) => {
    const now = read();
    rows.push({ component, mb: (now.rss - now.young - (last.rss - last.young)) / MB, heap_mb: (now.heap - last.heap) / MB });
    last = now;
  };
  for (const [component, packages] of GROUPS) {
    const used = packages.filter((p) => loaded.has(p.split('/').slice(0, p.startsWith('@') ? 2 : 1).join('/')));
    if (used.length === 0) continue;
    for (const p of used) await import(p);
    step(component);
  }
  await import(pathToFileURL(resolve('dist/app.module.js')).href);
  step("the service's own modules");
  const app = await startService(Number(process.argv[3]));
  // Past the service's own settling step after boot (src/app/boot-memory.ts), as an idle process is.
  await new Promise((r) => setTimeout(r, 10_000));
  step('the started app (providers, databases, caches, routes)');
  rows.push({ component: 'young generation V8 holds after the boot', mb: last.young / MB, heap_mb: 0 });
  await app.close();
  rmSync(process.env.DATA_DIR, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ rows, total_mb: last.rss / MB, loaded: [...loaded].sort() }));
  process.exit(0);
}

/** Both children; returns the rows. `port` must be free. */
export function idleFootprint(port) {
  const self = new URL(import.meta.url).pathname;
  const loaded = execFileSync(process.execPath, [self, 'list', String(port)], { encoding: 'utf8' });
  const out = execFileSync(process.execPath, ['--expose-gc', self, 'measure', String(port), loaded], { encoding: 'utf8' });
  return JSON.parse(out);
}

const mode = process.argv[2];
if (mode === 'list') await listLoaded();
else if (mode === 'measure') await measure();
else if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  console.log(JSON.stringify(idleFootprint(Number(process.env.PORT ?? 39871)), null, 1));
}
