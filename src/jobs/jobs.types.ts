/**
 * Durable batch jobs: what the tables hold and what the API returns.
 *
 * A batch goes `validating` (its upload is being read; invisible until it commits) →
 * `in_progress` → (`canceling` →) `ended`. Each item goes `pending` → `processing` → one of the
 * final states, written once: `succeeded`, `errored`, `canceled`, `expired`.
 */
export type BatchStatus = 'validating' | 'in_progress' | 'canceling' | 'ended';
export type ItemState = 'pending' | 'processing' | FinalState;
export type FinalState = 'succeeded' | 'errored' | 'canceled' | 'expired';

export const FINAL_STATES: readonly FinalState[] = ['succeeded', 'errored', 'canceled', 'expired'];
/** The states of an item that still has to run. */
export const OPEN_STATES: readonly ItemState[] = ['pending', 'processing'];

/** `batches`. Times are epoch milliseconds in a BIGINT (PostgreSQL returns them as strings). */
export interface BatchesTable {
  id: string;
  /** Whose batch it is: the caller's scope (an API key's hash, or `anonymous`). */
  owner: string;
  status: BatchStatus;
  total: number;
  created_at: number | string;
  started_at: number | string | null;
  ended_at: number | string | null;
  expires_at: number | string;
  cancel_initiated_at: number | string | null;
  /** JSON text of the caller's metadata, or null. */
  metadata: string | null;
}

/** `batch_items`: one per input line, keyed by (batch_id, idx), idx the 0-based position in the input. */
export interface BatchItemsTable {
  batch_id: string;
  idx: number;
  /** Null for an input line that had no valid custom_id (it ends `errored`). */
  custom_id: string | null;
  /** JSON text of the validated caption request; null for an item that failed validation. */
  request: string | null;
  state: ItemState;
  /** JSON text of the item's `result` object once it ended. */
  result: string | null;
  ended_at: number | string | null;
}

/** `batch_idempotency`: one row per Idempotency-Key, created in the transaction that commits its batch. */
export interface BatchIdempotencyTable {
  key: string;
  fingerprint: string;
  batch_id: string;
  created_at: number | string;
}

/** `batch_leases`: named leases (the reconciler's), so one replica at a time runs a periodic task. */
export interface BatchLeasesTable {
  name: string;
  holder: string;
  until: number | string;
}

export interface JobsDatabase {
  batches: BatchesTable;
  batch_items: BatchItemsTable;
  batch_idempotency: BatchIdempotencyTable;
  batch_leases: BatchLeasesTable;
}

export interface RequestCounts {
  total: number;
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** The batch object every `/batches` route answers with. Times are ISO 8601, or null. */
export interface BatchObject {
  id: string;
  object: 'batch';
  status: Exclude<BatchStatus, 'validating'> | 'validating';
  request_counts: RequestCounts;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  expires_at: string;
  cancel_initiated_at: string | null;
  results_url: string;
  metadata: Record<string, string> | null;
}

/** The contract's error body, as an errored item carries it. */
export interface ItemError {
  error: string;
  message: string;
  details?: Array<{ field: string; message: string }>;
  request_id?: string;
  timestamp: number;
}

export type ItemResult =
  | { type: 'succeeded'; response: unknown }
  | { type: 'errored'; error: ItemError }
  | { type: 'canceled' }
  | { type: 'expired' };

/** One line of `GET /batches/{id}/results`. */
export interface ResultLine {
  custom_id: string | null;
  result: ItemResult;
}

/** A new item as intake stores it. */
export interface NewItem {
  idx: number;
  custom_id: string | null;
  request: string | null;
  /** Set for an item that failed validation: it is stored ended, `errored`. */
  error?: ItemError;
}
