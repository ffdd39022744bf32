/**
 * A drafting thread of the offline engine's pool (see pooled-caption.engine.ts): one
 * TemplateCaptionEngine per thread, built on the thread's first task with the server's settings,
 * so its parsers, banks and sentence cache stay warm from task to task.
 */
import { workerData } from 'node:worker_threads';
import type { CaptionVariation } from '../../dto/caption-generation-response.dto.js';
import { loadNlpLibraries } from '../nlp-libraries.js';
import { TemplateCaptionEngine } from '../template-caption.engine.js';
import type { DraftTask, DraftTaskResult, DraftWorkerData } from './draft-task.js';

let engine: TemplateCaptionEngine | undefined;

export default async function draft({ request, first, count, cancel }: DraftTask): Promise<DraftTaskResult> {
  await loadNlpLibraries();
  engine ??= new TemplateCaptionEngine((workerData as DraftWorkerData).engine);
  const variations: CaptionVariation[] = [];
  for (let i = first; i < first + count; i++) {
    if (Atomics.load(cancel, 0) !== 0) return { variations, keyTerms: engine.keyTerms(request), stopped: true };
    variations.push(engine.generate(request, i));
  }
  return { variations, keyTerms: engine.keyTerms(request), stopped: false };
}
