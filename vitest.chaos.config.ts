import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// `npm run chaos`: dependency faults (PostgreSQL stopped, Redis killed, a full or read-only disk)
// against the service run as a child process, with a PostgreSQL and a Redis of the suite's own.
// Kept out of `npm test` because these specs need root (initdb through runuser, tmpfs mounts),
// stop servers, and time recoveries: they run one file at a time, after the other tiers (CI runs
// them as a step of their own).
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    name: 'chaos',
    environment: 'node',
    pool: 'forks',
    include: ['test/chaos/**/*.chaos.spec.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { LOG_LEVEL: 'silent', NODE_ENV: 'test' },
  },
});
