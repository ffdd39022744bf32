import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const SLOW = '**/*.slow.spec.ts';
// Dependency-fault specs run by `npm run chaos` (vitest.chaos.config.ts), never here.
const CHAOS = '**/*.chaos.spec.ts';
// The LLM engine's contract suite needs a real model: it runs only when LLM_BASE_URL names one,
// and is left out (not counted as skipped) otherwise, with a warning saying so.
const LLM_CONTRACT = 'test/llm-contract.e2e.spec.ts';
const llmContract = Boolean(process.env.LLM_BASE_URL);
if (!llmContract) console.warn(`[vitest] ${LLM_CONTRACT} left out: set LLM_BASE_URL and LLM_MODEL (and LLM_API_KEY) to run the LLM contract suite`);

// SWC compiles the specs because esbuild (Vitest's default) emits no decorator metadata,
// which Nest's dependency injection and class-validator need.
// Three tiers, chosen by where a spec lives and its name (`npm test` runs all of them):
// - unit: specs beside their code in src/ (no HTTP app, no network; real temp directories and
//   SQLite files are fine);
// - e2e: specs in test/ (the app over HTTP, and the adapters against real PostgreSQL and Redis);
// - slow: `*.slow.spec.ts` anywhere (fuzzing, crash loops, large uploads, child server processes).
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  // The client package from its source, so specs never run against a stale build of it.
  resolve: { alias: { '@instagram-captions/client': new URL('./clients/typescript/src/index.ts', import.meta.url).pathname } },
  test: {
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { LOG_LEVEL: 'silent', NODE_ENV: 'test' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.spec.ts'], exclude: [SLOW] } },
      { extends: true, test: { name: 'e2e', include: ['test/**/*.spec.ts'], exclude: llmContract ? [SLOW, CHAOS] : [SLOW, CHAOS, LLM_CONTRACT] } },
      // After the others, one file at a time: some measure latency and memory of a server process,
      // which other specs running beside them on a 2-core machine would distort.
      // A poll here waits for a server in a process of its own (a first draft, a page of a large
      // history) on a machine the other tiers keep busy: Vitest's 1 s would judge speed, not the event.
      { extends: true, test: { name: 'slow', include: [SLOW], exclude: [CHAOS], testTimeout: 180_000, fileParallelism: false, sequence: { groupOrder: 1 }, expect: { poll: { timeout: 20_000 } } } },
    ],
  },
});
