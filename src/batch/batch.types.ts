/** Why one item failed: a contract error code and a message for that item alone. */
export interface BatchItemError {
  code: string;
  message: string;
  /** Per-field problems when the item's request broke a rule. */
  details?: Array<{ field: string; message: string }>;
}

/**
 * One result, `{request_id, caption, hashtags, quality_score,
 * processing_time, success}`, plus `index` (the request's position in the upload: results leave
 * in the order they finish, not the order sent) and, on success, whether quality stayed below the
 * threshold after the regenerations. A failed item has `success: false`, `caption: null` and an
 * `error`.
 */
export interface BatchItem {
  request_id: string | null;
  index: number;
  success: boolean;
  caption: string | null;
  hashtags: string[];
  /** The returned caption's own quality score (0–100). */
  quality_score: number | null;
  /** Seconds spent on this item, regenerations included. */
  processing_time: number;
  /** Generations made after the first because quality was below `quality_threshold`. */
  regenerations?: number;
  /** True when the item is returned although its quality stayed below `quality_threshold`. */
  below_threshold?: boolean;
  error?: BatchItemError;
}

/** SSE `progress` event, one per chunk: items finished so far, failed so far, total (null while an NDJSON upload is still arriving), seconds elapsed. */
export interface BatchProgress {
  done: number;
  failed: number;
  total: number | null;
  elapsed: number;
}

/** The last item of a batch (SSE: the `done` event). */
export interface BatchSummary {
  batch_id: string;
  total: number;
  succeeded: number;
  failed: number;
  below_threshold: number;
  /** Seconds from the first request read to the last result. */
  processing_time: number;
}

export type BatchOutput =
  | { kind: 'item'; item: BatchItem }
  | { kind: 'progress'; progress: BatchProgress }
  | { kind: 'summary'; summary: BatchSummary };

/** One request of the batch as the pipeline receives it: ready to generate, or already failed. */
export type BatchInput<R> =
  | { index: number; request_id: string; request: R }
  | { index: number; request_id: string | null; error: BatchItemError };

/** What one generation produced, as far as the batch needs it. */
export interface BatchDraft {
  caption: string;
  hashtags: string[];
  quality_score: number;
}
