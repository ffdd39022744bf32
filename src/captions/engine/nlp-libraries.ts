import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type Compromise from 'compromise';
import type { eld as Eld } from 'eld/extrasmall';

/** The engine's language libraries: compromise (English parsing) and eld's smallest n-gram database. */
export interface NlpLibraries {
  nlp: typeof Compromise;
  eld: typeof Eld;
}

let libraries: NlpLibraries | undefined;
let loading: Promise<NlpLibraries> | undefined;

/**
 * Loads the language libraries once, on first use rather than at start: together they hold about
 * 50 MB of memory, which a service whose drafting runs on worker threads (or on the LLM engine)
 * never needs on its main thread. The engines' asynchronous entries await this before parsing.
 */
export function loadNlpLibraries(): Promise<NlpLibraries> {
  if (libraries) return Promise.resolve(libraries);
  loading ??= Promise.all([import('compromise'), import('eld/extrasmall')]).then(([compromise, eld]) => {
    libraries ??= { nlp: compromise.default, eld: eld.eld };
    return libraries;
  });
  return loading;
}

/** The libraries are loaded (by {@link loadNlpLibraries} or a synchronous first use). */
export function nlpLoaded(): boolean {
  return libraries !== undefined;
}

/**
 * The language libraries for synchronous code (parsing, scoring). Loaded by
 * {@link loadNlpLibraries} on every path the service takes; a synchronous caller that comes first
 * (a script, a test calling `generate` directly) loads the same ES module files synchronously
 * (`require(esm)`, Node ≥ 20.19), so the parse is the same either way.
 */
export function nlpLibraries(): NlpLibraries {
  if (libraries) return libraries;
  const require = createRequire(import.meta.url);
  const compromise = require(fileURLToPath(import.meta.resolve('compromise'))) as { default: typeof Compromise };
  const eld = require(fileURLToPath(import.meta.resolve('eld/extrasmall'))) as { eld: typeof Eld };
  libraries = { nlp: compromise.default, eld: eld.eld };
  return libraries;
}
