import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC compiles the specs because esbuild (Vitest's default) emits no decorator metadata,
// which Nest's dependency injection and class-validator need.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.spec.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { LOG_LEVEL: 'silent', NODE_ENV: 'test' },
  },
});
