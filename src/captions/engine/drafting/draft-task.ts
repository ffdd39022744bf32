import type { CaptionGenerationRequest } from '../../dto/caption-generation-request.dto.js';
import type { CaptionVariation } from '../../dto/caption-generation-response.dto.js';
import type { TemplateEngineOptions } from '../template-caption.engine.js';

/** What every drafting thread is started with: the offline engine's settings (`workerData`). */
export interface DraftWorkerData {
  engine: TemplateEngineOptions & { hashtagBlocklist?: string[] };
}

/** One range of one request, drafted by a worker thread. */
export interface DraftTask {
  request: CaptionGenerationRequest;
  first: number;
  count: number;
  /**
   * One Int32 over shared memory: the main thread stores 1 when the caller's signal aborts, and
   * the worker stops before its next variation (a running task is never killed: killing a thread
   * loses the parsers it loaded, and the variations already made).
   */
  cancel: Int32Array;
}

export interface DraftTaskResult {
  /** The variations made, in order: all of the range unless `stopped`. */
  variations: CaptionVariation[];
  /** The description's key terms as the engine read them (the main thread's `confidence` uses them). */
  keyTerms: string[];
  /** The cancel flag was seen before the range was done. */
  stopped: boolean;
  /** Milliseconds the thread spent on the range (the main thread learns the threads' speed from it). */
  ms: number;
}
