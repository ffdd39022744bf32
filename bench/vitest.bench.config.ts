import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Benchmarks run once, in one process, and print their own tables; Vitest is only the TS runner here.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['bench/**/*.bench.ts'],
    environment: 'node',
    pool: 'forks',
    // One benchmark file at a time: two measuring side by side would distort each other.
    fileParallelism: false,
    testTimeout: 0,
    hookTimeout: 0,
    silent: false,
    reporters: ['verbose'],
  },
});
