import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SyncCaptionEngine } from '../../src/captions/engine/caption-engine.js';

/** What the bench uses of an engine of another revision (whose port may differ in other methods). */
export type OldEngine = Pick<SyncCaptionEngine, 'generate' | 'name' | 'languages'>;

const ENGINE_FILE = 'src/captions/engine/template-caption.engine.ts';
const OLD_NAME = "readonly name = 'template-engine@1.1.0'";

/**
 * The template engine as it was at 1.1.0, from the repository's history, for a figure measured in
 * the same run as the current one. `BENCH_OLD_ENGINE_REV` names the commit; by default the parent
 * of the commit that replaced 1.1.0. Its source is extracted under bench/.cache (ignored by git) so
 * the packages it imports resolve. Undefined, with the reason, when git or the history is missing.
 */
export async function loadOldEngine(): Promise<{ engine: OldEngine; rev: string } | { reason: string }> {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const replaced = git('log', '-1', '--format=%H', `-S${OLD_NAME}`, '--', ENGINE_FILE);
    const rev = process.env.BENCH_OLD_ENGINE_REV ?? (replaced ? `${replaced}^` : '');
    const source = rev ? git('show', `${rev}:${ENGINE_FILE}`) : '';
    if (!source.includes(OLD_NAME)) return { reason: `no ${OLD_NAME} at ${rev || 'any commit'}` };
    const sha = git('rev-parse', rev);
    const dir = resolve('bench/.cache', `old-engine-${sha.slice(0, 12)}`);
    if (!existsSync(join(dir, ENGINE_FILE))) {
      mkdirSync(dir, { recursive: true });
      const archive = execFileSync('git', ['archive', sha, 'src/captions', 'src/common', 'src/config']);
      execFileSync('tar', ['-x', '-C', dir, '--exclude=*.spec.ts'], { input: archive });
    }
    const mod = (await import(pathToFileURL(join(dir, ENGINE_FILE)).href)) as { TemplateCaptionEngine: new () => OldEngine };
    return { engine: new mod.TemplateCaptionEngine(), rev: sha.slice(0, 12) };
  } catch (err) {
    return { reason: (err as Error).message.split('\n')[0]! };
  }
}
