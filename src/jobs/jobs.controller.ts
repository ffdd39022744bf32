import { ApiRequestContent } from '../common/openapi/api-request-content.decorator.js';
import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExtraModels, ApiHeader, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { IdempotencyStore } from '../batch/idempotency.store.js';
import { CaptionGenerationResponse } from '../captions/dto/caption-generation-response.dto.js';
import { ApiError } from '../common/errors/api-error.js';
import { BodyMediaTypes } from '../common/http/body-media-type.guard.js';
import { requestIdOf } from '../common/http/request-id.js';
import { ApiStreamedResponse } from '../common/openapi/api-streamed-response.decorator.js';
import { RequestAuth } from '../common/security/request-auth.js';
import { negotiateFormat } from '../common/streaming/negotiation.js';
import { ResponseStream } from '../common/streaming/response-stream.js';
import { AppConfig } from '../config/app-config.js';
import {
  BatchEventDataDto,
  BatchItemErrorBodyDto,
  BatchListDto,
  BatchObjectDto,
  BatchResultLineDto,
  BatchResultsQuery,
  BatchJobRequest,
  CreateBatchRequest,
  ListBatchesQuery,
} from './dto/batch-job.dto.js';
import { JobsService, type BatchEvent, type Caller } from './jobs.service.js';
import type { BatchObject, ResultLine } from './jobs.types.js';

const NDJSON = 'application/x-ndjson';
const ERROR = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } };

/** A batch id as this service makes them; anything else is simply not found. */
const BATCH_ID = /^batch_[A-Za-z0-9_-]{1,40}$/;

/** Durable batch jobs: thin HTTP shaping around {@link JobsService}. */
@ApiTags('batch jobs')
@Controller('batches')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly auth: RequestAuth,
    private readonly config: AppConfig,
  ) {}

  private callerOf(req: Request, idempotencyKey?: string): Caller {
    const owner = this.auth.scope(req);
    const raw = IdempotencyStore.validKey(idempotencyKey);
    return { owner, requestId: requestIdOf(req), key: raw === undefined ? undefined : `${owner}:${raw}` };
  }

  /**
   * `POST /batches`: a JSON `{requests, metadata?}` or an NDJSON upload, one request a line, read as
   * it arrives. Answers 202 with the batch once every item is stored; the work runs in the background.
   */
  @Post()
  @HttpCode(202)
  @BodyMediaTypes('application/json', NDJSON)
  @ApiRequestContent({
    description:
      `application/json: a \`CreateBatchRequest\`; ${NDJSON}: one \`BatchJobRequest\` per line (gzip, deflate or br accepted). ` +
      'Each request is validated on its own: a bad one ends its item `errored`, never refuses the batch.',
    json: CreateBatchRequest,
    ndjsonItem: BatchJobRequest,
    perItem: true,
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Per API key. The same key and body answer the same batch; another body: 422' })
  @ApiResponse({ status: 202, description: 'The batch, `in_progress` (or `ended` when no item was valid)', type: BatchObjectDto })
  @ApiResponse({ status: 413, description: '`payload_too_large`: more than BATCH_JOB_MAX_ITEMS lines, or an upload over BATCH_NDJSON_MAX_BYTES / BATCH_NDJSON_MAX_RATIO; nothing is stored', content: ERROR })
  @ApiResponse({ status: 422, description: '`validation_failed`: no requests, too many, a duplicate `custom_id`, or an Idempotency-Key used with another body; nothing is stored', content: ERROR })
  async create(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<BatchObject> {
    const caller = this.callerOf(req, idempotencyKey);
    const isNdjson = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === NDJSON;
    const { batch, replayed } = isNdjson ? await this.jobs.createFromUpload(req, res, caller) : await this.jobs.createFromJson(body, caller);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.setHeader('Location', batch.results_url.replace(/\/results$/, ''));
    return batch;
  }

  /** `GET /batches`: the caller's batches, newest first. */
  @Get()
  @ApiOkResponse({ type: BatchListDto })
  async list(@Req() req: Request, @Query() q: ListBatchesQuery): Promise<BatchListDto> {
    return this.jobs.list(this.auth.scope(req), q.limit, q.cursor);
  }

  @Get(':id')
  @ApiOkResponse({ type: BatchObjectDto })
  @ApiResponse({ status: 404, description: '`not_found`: no such batch (or not this caller\'s)', content: ERROR })
  async get(@Req() req: Request, @Param('id') id: string): Promise<BatchObject> {
    return this.jobs.get(checkedId(id), this.auth.scope(req));
  }

  /** `POST /batches/{id}/cancel`: items not started end `canceled`; started ones finish. */
  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOkResponse({ type: BatchObjectDto, description: 'The batch, `canceling` (or `ended` when nothing was running)' })
  @ApiResponse({ status: 409, description: '`conflict`: the batch has already ended', content: ERROR })
  async cancel(@Req() req: Request, @Param('id') id: string): Promise<BatchObject> {
    return this.jobs.cancel(checkedId(id), this.auth.scope(req));
  }

  /** `GET /batches/{id}/results`: one NDJSON line per item, in input order. */
  @Get(':id/results')
  @ApiExtraModels(CaptionGenerationResponse, BatchItemErrorBodyDto)
  @ApiStreamedResponse({
    item: BatchResultLineDto,
    formats: ['ndjson'],
    description: 'One line per item in input order, streamed from the database whatever the size.',
  })
  @ApiResponse({ status: 409, description: '`conflict`: the batch has not ended (ask with `partial=true` for what has)', content: ERROR })
  async results(@Req() req: Request, @Res() res: Response, @Param('id') id: string, @Query() q: BatchResultsQuery): Promise<void> {
    negotiateFormat(req, ['ndjson']);
    // Checked before the stream starts, so a 404 or 409 is still an ordinary answer.
    const lines = await this.jobs.results(checkedId(id), this.auth.scope(req), q.partial === true);
    const stream = new ResponseStream<ResultLine>(req, res, {
      format: 'ndjson',
      route: 'GET /batches/:id/results',
      chunkSize: 200,
      compress: true,
      headers: { 'Content-Disposition': `attachment; filename="${id}-results.ndjson"` },
      idleTimeoutMs: this.config.exports.idleTimeoutMs,
      minBytesPerSecond: this.config.exports.minBytesPerSecond,
    });
    await stream.send(lines(() => stream.ready()));
  }

  /** `GET /batches/{id}/events`: SSE `progress` with the counts as they change, then `ended`. */
  @Get(':id/events')
  @ApiExtraModels(BatchEventDataDto)
  @ApiStreamedResponse({
    item: BatchEventDataDto,
    formats: ['sse'],
    description: 'Progress of the batch: `event: progress` whenever the counts change, then `event: ended` with the final counts.',
    sseEvents: { progress: BatchEventDataDto, ended: BatchEventDataDto },
  })
  async events(@Req() req: Request, @Res() res: Response, @Param('id') id: string): Promise<void> {
    negotiateFormat(req, ['sse']);
    const owner = this.auth.scope(req);
    await this.jobs.get(checkedId(id), owner);
    const stream = new ResponseStream<BatchEvent['data'] & { event?: never }>(req, res, {
      format: 'sse',
      route: 'GET /batches/:id/events',
      sseEvent: (d) => (d.status === 'ended' ? 'ended' : 'progress'),
      sseDone: () => undefined,
    });
    await stream.send(dataOf(this.jobs.events(id, owner, stream.signal)));
  }
}

async function* dataOf(events: AsyncIterable<BatchEvent>): AsyncGenerator<BatchEvent['data']> {
  for await (const e of events) yield e.data;
}

function checkedId(id: string): string {
  if (!BATCH_ID.test(id)) throw new ApiError(404, 'not_found', 'No such batch');
  return id;
}
