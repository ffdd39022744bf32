import { ApiInt } from '../common/openapi/schema-rules.js';
/** One caption history row as the API returns it. */
export class HistoryRowDto {
  id!: string;
  user_id!: string | null;
  caption!: string;
  hashtags!: string[];
  style!: string;
  audience!: string;
  content_type!: string;
  language!: string;
  /** 0–100. */
  quality_score!: number;
  /** 0–1. */
  engagement_score!: number;
  request_id!: string;
  /** ISO 8601. */
  created_at!: string;
}

export class HistoryPaginationDto {
  /** Null when walking by cursor. */
  @ApiInt() page!: number | null;
  @ApiInt() page_size!: number;
  /** True count of matching rows; null with `include_total=false`. */
  @ApiInt() total_items!: number | null;
  @ApiInt() total_pages!: number | null;
  has_next!: boolean;
  has_previous!: boolean;
  /** Opaque; pass as `cursor` for the next page. */
  next_cursor!: string | null;
  prev_cursor!: string | null;
}

export class HistoryMetadataDto {
  /** Unix time in seconds. */
  loaded_at!: number;
  /** True only when the rows came from the lazy loader's cache. */
  cache_hit!: boolean;
  /** Seconds spent reading the page. */
  processing_time!: number;
}

/** `GET /caption-history`: `{success, data, pagination, metadata}`, with true values. */
export class HistoryPageDto {
  success!: true;
  data!: HistoryRowDto[];
  pagination!: HistoryPaginationDto;
  metadata!: HistoryMetadataDto;
}
