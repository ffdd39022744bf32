// `npm start`: build when dist/ is missing or older than any source file (the browser client's
// files under ui/ included, since the build copies them), then run the server in
// this same process (so SIGTERM/SIGINT reach Nest's shutdown hooks directly).
// `--build-only` stops after the build (used by `npm run seed`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
    const p = join(dir, e.name);
    return Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);

const built = 'dist/main.js';
const stale =
  !existsSync(built) ||
  Math.max(newest('src'), statSync('package.json').mtimeMs, statSync('tsconfig.json').mtimeMs) > statSync(built).mtimeMs ||
  (existsSync('ui') && (!existsSync('dist/ui') || newest('ui') > newest('dist/ui')));

if (stale) {
  const r = spawnSync('npx', ['nest', 'build'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (!process.argv.includes('--build-only')) {
  // A local .env (copied from .env.example) is read when present; real environment variables win.
  if (existsSync('.env')) process.loadEnvFile('.env');
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(resolve(built)).href);
}
