import type { Generated } from 'kysely';

import { CAPTION_STYLES, type CaptionStyle } from '../common/domain/caption-styles.js';

/** The caption styles; history rejects any other in a filter. */
export const HISTORY_STYLES = CAPTION_STYLES;
export type HistoryStyle = CaptionStyle;

/** What `HistoryService.record` stores: one generated variation (docs/architecture.md). */
export interface NewHistoryRow {
  user_id: string | null;
  caption: string;
  hashtags: string[];
  style: string;
  audience: string;
  content_type: string;
  language: string;
  quality_score: number;
  engagement_score: number;
  request_id: string;
  created_at?: Date;
}

/** One row as the API returns it: what was recorded, with its id and ISO 8601 creation time. */
export interface HistoryRow extends Omit<NewHistoryRow, 'created_at'> {
  id: string;
  created_at: string;
}

/** The sort key: newest first, `id` breaks ties. `createdAt` is epoch milliseconds. */
export interface SortKey {
  createdAt: number;
  id: number;
}

/** A normalised filter; the dates are epoch milliseconds, both inclusive. */
export interface HistoryFilter {
  userId?: string;
  style?: string;
  from?: number;
  to?: number;
}

/**
 * The table. `created_at` is epoch milliseconds in a BIGINT on both engines, so SQLite and
 * PostgreSQL compare, index and bind it the same way through one query path.
 */
export interface CaptionHistoryTable {
  id: Generated<number>;
  user_id: string | null;
  caption: string;
  /** JSON array text. */
  hashtags: string;
  style: string;
  audience: string;
  content_type: string;
  language: string;
  quality_score: number;
  engagement_score: number;
  request_id: string;
  created_at: number;
}

export interface HistoryMetaTable {
  key: string;
  value: string;
}

/** Day buckets per scope (history-buckets.ts); every counter only grows. PostgreSQL returns BIGINT as a string. */
export interface HistoryBucketsTable {
  scope: string;
  day: number | string;
  row_count: number | string;
  oldest: number | string;
  newest: number | string;
  shifts: number | string;
}

export interface HistoryDatabase {
  caption_history: CaptionHistoryTable;
  history_meta: HistoryMetaTable;
  history_buckets: HistoryBucketsTable;
}
