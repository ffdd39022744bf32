// `npm run smoke:image`: the image's runtime stage, run on this machine without a Docker engine.
// Reads the Dockerfile and does what its stages do: installs the production dependencies (the
// stage the runtime copies node_modules from, its RUN lines) under the runtime image's Node major,
// builds dist/ from only what the build stage copies (`npm run build`, on the machine's Node and
// node_modules: the output is plain JavaScript), lays out /app as the runtime stage's COPY lines do, then starts ENTRYPOINT + CMD with the image's ENV,
// waits for the HEALTHCHECK command to pass, checks readiness, sends SIGTERM and expects exit 0.
// The Node binary of another major comes from the npm registry (node-<platform>-<arch>, with its
// headers, so better-sqlite3 compiles against it); installs are cached under node_modules/.cache.
// Not a spec: the first run compiles better-sqlite3 (about two minutes), too slow for `npm test`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Dockerfile } from './dockerfile.js';
import { freePort } from './free-port.js';

const { values } = parseArgs({
  options: {
    'node-major': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`npm run smoke:image -- [--node-major 22] [--no-build]
  --node-major  run under this Node major instead of the runtime image's
  --no-build    use dist/ as it is (no npm run build)
`);
  process.exit(0);
}

const ROOT = process.cwd();
const CACHE = resolve('node_modules/.cache/image-smoke');
const docker = Dockerfile.read('Dockerfile');
const runtime = docker.runtime;
const log = (line: string) => process.stdout.write(`[smoke:image] ${line}\n`);

function fail(message: string): never {
  process.stderr.write(`[smoke:image] FAILED: ${message}\n`);
  process.exit(1);
}

/** A Node binary of `major`: this process's own when it matches, else one from the registry (cached). */
function nodeOf(major: string): { bin: string; root?: string } {
  if (process.versions.node.split('.')[0] === major) return { bin: process.execPath };
  const pkg = `node-${process.platform}-${process.arch}`;
  const root = join(CACHE, `${pkg}-${major}`, 'package');
  if (!existsSync(join(root, 'bin', 'node'))) {
    const dir = dirname(root);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`fetching ${pkg}@${major} (npm pack)`);
    const tgz = execFileSync('npm', ['pack', `${pkg}@${major}`, '--silent'], { cwd: dir, encoding: 'utf8' }).trim().split('\n').at(-1)!;
    execFileSync('tar', ['xzf', tgz], { cwd: dir });
    rmSync(join(dir, tgz));
  }
  return { bin: join(root, 'bin', 'node'), root };
}

/**
 * The `.dockerignore` as a predicate on context-relative paths: patterns in order, the last match
 * wins, `!` lets a path through again; `**` spans directories, `*` stays within one. Directories are
 * always walked, as Docker does, so an exception below an ignored directory still counts.
 */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const glob = (negate ? l.slice(1) : l).replace(/^\//, '');
      const body = glob
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => (part === '**/' || part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return { negate, re: new RegExp(`^${body}(/.*)?$`) };
    });
  return (path) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(path)) ignored = !r.negate;
    return ignored;
  };
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv): void {
  log(`$ ${command}`);
  const r = spawnSync('sh', ['-c', command], { cwd, env, stdio: 'inherit' });
  if (r.status !== 0) fail(`${command} exited ${r.status ?? r.signal}`);
}

// --- what the runtime stage copies: node_modules from an install stage, dist from a build stage, files from the context
const copies = docker.copies(runtime);
const depsCopy = copies.find((c) => c.from && c.sources.some((s) => s.endsWith('/node_modules')));
const distCopy = copies.find((c) => c.from && c.sources.some((s) => s.endsWith('/dist')));
const contextFiles = copies.filter((c) => !c.from).flatMap((c) => c.sources);
const understood = new Set([depsCopy, distCopy, ...copies.filter((c) => !c.from)]);
const other = copies.filter((c) => !understood.has(c));
if (!depsCopy || !distCopy || other.length > 0) {
  fail(`the runtime stage's COPY lines changed (${JSON.stringify(other)}): teach this script the new layout`);
}

const major = values['node-major'] ?? /^node:(\d+)/.exec(runtime.from)?.[1] ?? fail(`runtime image ${runtime.from} is not node:<major>…`);
const node = nodeOf(major);
const nodeVersion = execFileSync(node.bin, ['--version'], { encoding: 'utf8' }).trim();
// Node first on PATH (npm's own scripts and node-gyp run on it); its headers for native modules.
const toolEnv: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${dirname(node.bin)}:${process.env.PATH}`,
  ...(node.root ? { npm_config_nodedir: node.root } : {}),
};
log(`runtime image ${runtime.from}: running under Node ${nodeVersion}`);

// --- the production dependencies, as the install stage makes them (cached by lockfile and Node version)
const depsStage = docker.stage(depsCopy.from!);
const depsInputs = docker.chain(depsStage).flatMap((s) => docker.copies(s)).filter((c) => !c.from).flatMap((c) => c.sources);
const depsRuns = depsStage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const key = createHash('sha256');
for (const f of depsInputs) key.update(f).update(readFileSync(f));
key.update(nodeVersion).update(depsRuns.join('\n'));
const depsDir = join(CACHE, `deps-${key.digest('hex').slice(0, 16)}`);
if (!existsSync(join(depsDir, '.complete'))) {
  rmSync(depsDir, { recursive: true, force: true });
  for (const f of depsInputs) cpSync(f, join(depsDir, f));
  const started = Date.now();
  for (const command of depsRuns) run(command, depsDir, toolEnv);
  writeFileSync(join(depsDir, '.complete'), '');
  log(`production dependencies installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
} else {
  log(`production dependencies from the cache (${depsDir})`);
}

// --- dist/, built from only what the build stage copies (the .dockerignore applied), with the
// repository's node_modules (its `npm ci` would be the same install)
const buildStage = docker.stage(distCopy.from!);
const buildDir = mkdtempSync(join(tmpdir(), 'image-smoke-build-'));
if (!values['no-build']) {
  const ignored = dockerignore(readFileSync('.dockerignore', 'utf8'));
  const sources = docker.chain(buildStage).flatMap((s) => docker.copies(s)).filter((c) => !c.from).flatMap((c) => c.sources);
  for (const src of sources) cpSync(src, join(buildDir, src), { recursive: true, filter: (f) => statSync(f).isDirectory() || !ignored(relative(ROOT, f)) });
  symlinkSync(join(ROOT, 'node_modules'), join(buildDir, 'node_modules'));
  for (const command of buildStage.instructions.filter((i) => i.keyword === 'RUN' && !/\bnpm ci\b/.test(i.args)).map((i) => i.args)) {
    run(command, buildDir, process.env);
  }
}
const dist = values['no-build'] ? join(ROOT, 'dist') : join(buildDir, 'dist');
if (!existsSync(join(dist, 'main.js'))) fail(`${dist}/main.js is missing`);

// --- /app, laid out as the runtime stage's COPY lines do
const app = mkdtempSync(join(tmpdir(), 'image-smoke-app-'));
const dataDir = mkdtempSync(join(tmpdir(), 'image-smoke-data-'));
symlinkSync(join(depsDir, 'node_modules'), join(app, 'node_modules'));
cpSync(dist, join(app, 'dist'), { recursive: true });
rmSync(buildDir, { recursive: true, force: true });
for (const f of contextFiles) cpSync(f, join(app, f));
log(`/app = ${app}: ${readdirSync(app).join(', ')}`);

const port = await freePort();
const env: NodeJS.ProcessEnv = {
  PATH: toolEnv.PATH,
  ...docker.env(runtime),
  PORT: String(port),
  DATA_DIR: join(dataDir, 'data'),
  // Production refuses to start without keys.
  API_KEYS: randomBytes(24).toString('hex'),
  SHUTDOWN_DELAY_MS: '500',
  LOG_LEVEL: 'warn',
  // Here tini is not PID 1: registered as a subreaper it still reaps, as it does in the container.
  TINI_SUBREAPER: '1',
};
const { entrypoint, cmd } = docker.command();
const withNode = (argv: string[]) => argv.map((a, i) => (i === 0 && a === 'node' ? node.bin : a));
// tini is the image's PID 1; where this machine has no tini, CMD runs directly (Node handles SIGTERM itself).
const useEntrypoint = entrypoint.length > 0 && existsSync(entrypoint[0]!);
const argv = useEntrypoint ? [...entrypoint, ...withNode(cmd)] : withNode(cmd);
if (!useEntrypoint) log(`${entrypoint[0]} is not on this machine: running CMD without the ENTRYPOINT`);
log(`$ ${argv.join(' ')}   (cwd /app, PORT=${port})`);

const started = Date.now();
const child = spawn(argv[0]!, argv.slice(1), { cwd: app, env, stdio: ['ignore', 'inherit', 'inherit'] });
const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
let exitCode: number | null | undefined;
void exited.then((c) => (exitCode = c));

/** The HEALTHCHECK command, as Docker runs it inside the container. */
const hc = docker.healthcheck() ?? fail('the image has no HEALTHCHECK');
const healthy = () => spawnSync(withNode(hc.command)[0]!, withNode(hc.command).slice(1), { env, timeout: 3000 }).status === 0;
const startPeriodMs = Number.parseInt(hc.options['start-period'] ?? '60', 10) * 1000;
while (!healthy()) {
  if (exitCode !== undefined) fail(`the server exited (${exitCode}) before it was healthy`);
  if (Date.now() - started > startPeriodMs) {
    child.kill('SIGKILL');
    fail(`not healthy within the HEALTHCHECK start period (${startPeriodMs} ms)`);
  }
  await sleep(250);
}
const bootMs = Date.now() - started;
const ready = await fetch(`http://127.0.0.1:${port}/api/v14/lazy/health/ready`);
if (ready.status !== 200) fail(`readiness answered ${ready.status}: ${await ready.text()}`);

/** Resident memory of the Node process (the child of tini when tini runs). */
function rssMb(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    const target = useEntrypoint && children ? Number(children.split(' ')[0]) : pid;
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${target}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
const rss = rssMb(child.pid!);

const stopAt = Date.now();
child.kill('SIGTERM');
const code = await Promise.race([exited, sleep(Number(env.SHUTDOWN_GRACE_MS ?? 25_000) + 5000).then(() => 'timeout' as const)]);
if (code === 'timeout') {
  child.kill('SIGKILL');
  fail('no exit within SHUTDOWN_GRACE_MS after SIGTERM');
}
const stopMs = Date.now() - stopAt;
rmSync(app, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });
if (code !== 0) fail(`exit code ${code} after SIGTERM (expected 0)`);
log(
  `OK: Node ${nodeVersion}${useEntrypoint ? ' under tini' : ''}: healthy (HEALTHCHECK) ${bootMs} ms after start, ready 200, ` +
    `RSS ${rss === undefined ? 'n/a' : `${rss.toFixed(0)} MiB`} when idle, exit 0 ${stopMs} ms after SIGTERM (SHUTDOWN_DELAY_MS ${env.SHUTDOWN_DELAY_MS})`,
);
