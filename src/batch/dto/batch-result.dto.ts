import { ApiInt } from '../../common/openapi/schema-rules.js';
/** Why one item failed. */
export class BatchItemErrorDto {
  /** A contract error code (`validation_failed`…). */
  code!: string;
  message!: string;
  details?: BatchItemErrorDetailDto[];
}

export class BatchItemErrorDetailDto {
  field!: string;
  message!: string;
}

/** One result, `{request_id, caption, hashtags, quality_score, processing_time, success}` plus `index`; a failed item has `success: false` and an `error`. */
export class BatchItemDto {
  request_id!: string | null;
  /** The request's position in the upload (results leave in the order they finish). */
  @ApiInt() index!: number;
  success!: boolean;
  caption!: string | null;
  hashtags!: string[];
  /** 0–100. */
  quality_score!: number | null;
  /** Seconds spent on this item, regenerations included. */
  processing_time!: number;
  /** Generations made after the first because quality was below `quality_threshold`. */
  @ApiInt() regenerations?: number;
  /** The item is returned although its quality stayed below `quality_threshold`. */
  below_threshold?: boolean;
  error?: BatchItemErrorDto;
}

/** SSE `progress` event, one per chunk. */
export class BatchProgressDto {
  @ApiInt() done!: number;
  @ApiInt() failed!: number;
  /** Null while an NDJSON upload is still arriving. */
  @ApiInt() total!: number | null;
  elapsed!: number;
}

/** The last item of a batch (SSE: the `done` event). */
export class BatchSummaryDto {
  batch_id!: string;
  @ApiInt() total!: number;
  @ApiInt() succeeded!: number;
  @ApiInt() failed!: number;
  @ApiInt() below_threshold!: number;
  /** Seconds from the first request read to the last result. */
  processing_time!: number;
}
