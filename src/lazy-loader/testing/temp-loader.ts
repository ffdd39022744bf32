import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveLoaderConfig, type LazyLoaderOptions } from '../loader-config.js';
import { LazyLoader, type LazyLoaderDeps } from '../lazy-loader.js';

/** A temporary directory removed by `cleanup()`. */
export function tempDir(prefix = 'lazy-loader-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real `LazyLoader` with a disk tier in `dir` (SMALL profile unless overridden). */
export function loaderIn(dir: string, options: LazyLoaderOptions = {}, deps: LazyLoaderDeps = {}): LazyLoader {
  return new LazyLoader(
    resolveLoaderConfig({ dataSize: 'small', enable_disk_cache: true, disk_cache_dir: dir, retry_attempts: 0, ...options }),
    { random: () => 0.5, ...deps },
  );
}
