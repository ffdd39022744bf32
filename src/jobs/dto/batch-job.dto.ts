import { ApiRules } from '../../common/openapi/schema-rules.js';
import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { CaptionGenerationRequest } from '../../captions/dto/caption-generation-request.dto.js';
import { CaptionGenerationResponse } from '../../captions/dto/caption-generation-response.dto.js';

/** One request of a batch job: a caption request and the caller's id for it. */
export class BatchJobRequest extends CaptionGenerationRequest {
  @ApiProperty({ description: 'The caller\'s id for this item, unique in the batch; each result line carries it', pattern: '^[A-Za-z0-9_.:-]{1,64}$' })
  custom_id!: string;
}

/** `POST /batches` as JSON (an NDJSON upload's lines are held to the same rule, named the same way). */
@ApiRules({ fields: ['requests.*.custom_id'], rule: 'two requests of a batch must not share a `custom_id`' })
export class CreateBatchRequest {
  @ApiProperty({
    description: '1 to BATCH_JOB_MAX_ITEMS (default 100,000) requests. A request that breaks a rule does not refuse the batch: its item ends `errored`',
    type: () => [BatchJobRequest],
    minItems: 1,
    ...({ 'x-validated-per-item': true } as object),
  })
  requests!: BatchJobRequest[];

  @ApiPropertyOptional({
    description: 'Up to 16 string values (keys ≤ 64, values ≤ 512 characters), returned with the batch',
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 512 },
    maxProperties: 16,
    ...({ propertyNames: { maxLength: 64 } } as object),
  })
  metadata?: Record<string, string>;
}

export class RequestCountsDto {
  @ApiProperty() total!: number;
  @ApiProperty({ description: 'Not ended yet (queued or running)' }) processing!: number;
  @ApiProperty() succeeded!: number;
  @ApiProperty() errored!: number;
  @ApiProperty() canceled!: number;
  @ApiProperty() expired!: number;
}

export class BatchObjectDto {
  @ApiProperty({ example: 'batch_3q2-7wEd1Xk0fPz9c1Vb0A' }) id!: string;
  @ApiProperty({ enum: ['batch'] }) object!: 'batch';
  @ApiProperty({ enum: ['validating', 'in_progress', 'canceling', 'ended'] }) status!: string;
  @ApiProperty({ type: () => RequestCountsDto }) request_counts!: RequestCountsDto;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) started_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) ended_at!: string | null;
  @ApiProperty({ format: 'date-time', description: 'Items not ended by then end `expired`' }) expires_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) cancel_initiated_at!: string | null;
  @ApiProperty({ description: 'Where the results are read once the batch has ended' }) results_url!: string;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: { type: 'string' } }) metadata!: Record<string, string> | null;
}

export class BatchListDto {
  @ApiProperty({ type: () => [BatchObjectDto] }) data!: BatchObjectDto[];
  @ApiProperty() has_more!: boolean;
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page' }) next_cursor!: string | null;
}

export class BatchItemErrorBodyDto {
  @ApiProperty() error!: string;
  @ApiProperty() message!: string;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } })
  details?: Array<{ field: string; message: string }>;
  @ApiPropertyOptional() request_id?: string;
  @ApiProperty() timestamp!: number;
}

/** One line of `GET /batches/{id}/results`. */
export class BatchResultLineDto {
  @ApiProperty({ nullable: true, type: String, description: 'Null for an input line that had no valid custom_id' }) custom_id!: string | null;
  @ApiProperty({
    oneOf: [
      { type: 'object', required: ['type', 'response'], properties: { type: { enum: ['succeeded'] }, response: { $ref: getSchemaPath(CaptionGenerationResponse) } } },
      { type: 'object', required: ['type', 'error'], properties: { type: { enum: ['errored'] }, error: { $ref: getSchemaPath(BatchItemErrorBodyDto) } } },
      { type: 'object', required: ['type'], properties: { type: { enum: ['canceled', 'expired'] } } },
    ],
  })
  result!: unknown;
}

export class BatchEventDataDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['in_progress', 'canceling', 'ended'] }) status!: string;
  @ApiProperty({ type: () => RequestCountsDto }) request_counts!: RequestCountsDto;
}

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

@ApiRules({ fields: ['cursor'], rule: '`cursor` must be a `next_cursor` this service issued' })
export class ListBatchesQuery {
  @ApiPropertyOptional({ default: 20, minimum: 1, maximum: 100 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  limit: number = 20;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the previous page' })
  @IsOptional() @IsString() @MaxLength(200)
  cursor?: string;
}

export class BatchResultsQuery {
  @ApiPropertyOptional({ default: false, description: 'true: the results of the items ended so far, before the batch has ended' })
  @IsOptional() @Transform(toBoolean) @IsBoolean()
  partial?: boolean;
}
