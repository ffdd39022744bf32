import { transformFileSync } from '@swc/core';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error a plain ESM helper shared with the child process
import { entryFor } from '../testing/crash-entries.mjs';
import { tempDir } from '../testing/temp-loader.js';
import { DiskTier } from './disk-tier.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const ROUNDS = 30;

/** Compiles the disk tier (and what it imports) to plain ESM the child can run, inside the repo so packages resolve. */
function compileTier(): string {
  const out = join(root, 'node_modules/.cache/lazy-loader-crash');
  for (const file of ['src/lazy-loader/tiers/disk-tier.ts', 'src/lazy-loader/compression.ts', 'src/lazy-loader/loader-config.ts', 'src/common/fs/private-paths.ts', 'src/config/units.ts']) {
    const { code } = transformFileSync(join(root, file), {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    });
    const target = join(out, relative(join(root, 'src'), file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
  }
  return join(out, 'lazy-loader/tiers/disk-tier.js');
}

/** Starts a writer, waits until it is writing, lets it run `ms` more, then SIGKILLs it. */
function writeAndKill(tierJs: string, dir: string, seed: number, ms: number): Promise<void> {
  return new Promise((resolveDone, reject) => {
    const child = spawn(process.execPath, [join(here, '../testing/crash-writer.mjs'), tierJs, dir, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Only varies where the kill lands among the writes: the checks hold wherever that is.
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), ms));
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolveDone() : reject(new Error(`writer exited by itself: ${stderr}`))));
  });
}

describe(`${DiskTier.name} under kill -9`, () => {
  let tmp: ReturnType<typeof tempDir>;
  let tierJs: string;
  beforeAll(() => {
    tmp = tempDir();
    tierJs = compileTier();
  });
  afterAll(() => tmp.cleanup());

  it(`leaves every entry absent or byte-identical after ${ROUNDS} kills in the middle of writes`, async () => {
    let seen = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      await writeAndKill(tierJs, tmp.dir, round, 5 + ((round * 37) % 60));
      const sut = new DiskTier({ dir: tmp.dir, maxBytes: 2 * 1024 * 1024, maxEntries: 40, ttlMs: 3_600_000, compression: 'gzip', compressionThreshold: 512 });
      expect(sut.isOpen).toBe(true);
      for (let k = 0; k < 50; k++) {
        const key = `crash:${k}`;
        const hit = await sut.get(key);
        if (!hit) continue;
        seen++;
        const head = hit.items[0] as { key: string; version: number };
        expect(head.key).toBe(key);
        expect(hit.items).toEqual(entryFor(key, head.version));
      }
      // The digest never had to reject anything: SQLite's transactions kept every row whole.
      expect(sut.corrupt).toBe(0);
      sut.close();
    }
    expect(seen).toBeGreaterThan(ROUNDS * 10);
  }, 120_000);
});
