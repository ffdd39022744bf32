import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsBoolean, IsInt, IsNumber, IsOptional, Max, Min } from 'class-validator';
import { CaptionGenerationRequest } from '../../captions/dto/caption-generation-request.dto.js';
import { IsPlainId } from '../../common/domain/ids.js';
import { ApiConfigBound, ApiRules } from '../../common/openapi/schema-rules.js';

/**
 * `BatchCaptionRequest`, sent as a JSON body. Each element of
 * `requests` is a `CaptionGenerationRequest`, validated one by one as the batch runs: a bad element
 * is a failed item, not a failed batch. The upper bound of `requests` is `BATCH_MAX_REQUESTS`,
 * checked by the service (decorators cannot read configuration).
 */
@ApiRules({ fields: ['requests'], rule: 'two requests of a batch must not share a `request_id`' })
export class BatchCaptionRequest {
  @ApiProperty({
    description: 'CaptionGenerationRequest objects, 1 to BATCH_MAX_REQUESTS (default 1000); each validated on its own: a bad one is a failed item, not a refused batch',
    type: () => [CaptionGenerationRequest],
    minItems: 1,
    ...({ 'x-validated-per-item': true } as object),
  })
  @IsArray() @ArrayNotEmpty() @ApiConfigBound('maxItems', (c) => c.batch.maxRequests)
  requests!: unknown[];

  /** Made up (a UUID) when absent. */
  @ApiPropertyOptional({ description: 'Made up (a UUID) when absent' })
  @IsOptional() @IsPlainId()
  batch_id?: string;

  /** false: one generation at a time. */
  @ApiPropertyOptional({ default: true, description: 'false: one generation at a time' })
  @IsBoolean()
  parallel_processing: boolean = true;

  @ApiPropertyOptional({ default: 10, minimum: 1, maximum: 50 })
  @IsInt() @Min(1) @Max(50)
  max_concurrent: number = 10;

  /** 0–1 against `quality_score / 100`. */
  @ApiPropertyOptional({ default: 0.7, minimum: 0, maximum: 1, description: 'Against quality_score / 100; below it an item is regenerated' })
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  quality_threshold: number = 0.7;
}

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

/**
 * Query of `POST /batch-process`. `chunk_size` applies to every body; the batch options go here only
 * for an NDJSON upload (whose lines are all requests), and in the body for a JSON batch.
 */
@ApiRules({
  fields: ['batch_id', 'parallel_processing', 'max_concurrent', 'quality_threshold'],
  rule: 'batch options go in the query only for an NDJSON upload; a JSON batch carries them in its body',
})
export class BatchQuery {
  @ApiPropertyOptional({ default: 100, minimum: 10, maximum: 1000, description: 'Results per write and per SSE progress event' })
  @Type(() => Number) @IsInt() @Min(10) @Max(1000)
  chunk_size: number = 100;

  @ApiPropertyOptional({ description: 'NDJSON uploads only' })
  @IsOptional() @IsPlainId()
  batch_id?: string;

  // Only the words true/false: "yes" or "1" are a 422, not a silent guess.
  @ApiPropertyOptional({ description: 'NDJSON uploads only (default true)' })
  @IsOptional() @Transform(toBoolean) @IsBoolean()
  parallel_processing?: boolean;

  @ApiPropertyOptional({ description: 'NDJSON uploads only (default 10)', minimum: 1, maximum: 50 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(50)
  max_concurrent?: number;

  @ApiPropertyOptional({ description: 'NDJSON uploads only (default 0.7)', minimum: 0, maximum: 1 })
  @IsOptional() @Type(() => Number) @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  quality_threshold?: number;
}

/** The batch's options, wherever they came from. */
export interface BatchOptions {
  batchId: string;
  chunkSize: number;
  concurrency: number;
  qualityThreshold: number;
}
