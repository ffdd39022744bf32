/**
 * A drafting thread of the offline engine's pool (see pooled-caption.engine.ts): one
 * TemplateCaptionEngine per thread, built on the thread's first task with the server's settings,
 * so its parsers, banks and sentence cache stay warm from task to task.
 */
import { performance } from 'node:perf_hooks';
import { workerData } from 'node:worker_threads';
import type { CaptionVariation } from '../../dto/caption-generation-response.dto.js';
import { loadNlpLibraries } from '../nlp-libraries.js';
import { TemplateCaptionEngine } from '../template-caption.engine.js';
import type { DraftTask, DraftTaskResult, DraftWorkerData } from './draft-task.js';

let engine: TemplateCaptionEngine | undefined;

/**
 * Requests of recent tasks by content. Each task brings a fresh copy of its request (structured
 * clone), and the engine keeps a request's parse by object identity: without this, every task of a
 * stream (often one variation each) parsed the description again.
 */
const recent = new Map<string, DraftTask['request']>();
const RECENT_REQUESTS = 256;

function sameRequest(request: DraftTask['request']): DraftTask['request'] {
  const key = JSON.stringify(request);
  const known = recent.get(key);
  if (known) return known;
  recent.set(key, request);
  if (recent.size > RECENT_REQUESTS) recent.delete(recent.keys().next().value!);
  return request;
}

export default async function draft({ request: sent, first, count, cancel }: DraftTask): Promise<DraftTaskResult> {
  await loadNlpLibraries();
  engine ??= new TemplateCaptionEngine((workerData as DraftWorkerData).engine);
  const request = sameRequest(sent);
  const started = performance.now();
  const variations: CaptionVariation[] = [];
  for (let i = first; i < first + count; i++) {
    if (Atomics.load(cancel, 0) !== 0) return { variations, keyTerms: engine.keyTerms(request), stopped: true, ms: performance.now() - started };
    variations.push(engine.generate(request, i));
  }
  return { variations, keyTerms: engine.keyTerms(request), stopped: false, ms: performance.now() - started };
}
