import { Body, Controller, Headers, Post, Query, Req, Res } from '@nestjs/common';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { filter, map } from 'rxjs';
import { BodyMediaTypes } from '../common/http/body-media-type.guard.js';
import { ApiRequestContent } from '../common/openapi/api-request-content.decorator.js';
import { ApiStreamedResponse } from '../common/openapi/api-streamed-response.decorator.js';
import { headerRefs } from '../common/openapi/response-headers.js';
import { CaptionGenerationRequest } from '../captions/dto/caption-generation-request.dto.js';
import { negotiateFormat } from '../common/streaming/negotiation.js';
import { budgetOf } from '../common/security/rate-limit/rate-limiter.js';
import { countOf, RateCost } from '../common/security/rate-limit/rate-cost.guard.js';
import { RequestAuth } from '../common/security/request-auth.js';
import type { AppConfig } from '../config/app-config.js';
import { ResponseStream } from '../common/streaming/response-stream.js';
import type { BatchItem, BatchProgress, BatchSummary } from './batch.types.js';
import { BatchService } from './batch.service.js';
import { BatchCaptionRequest, BatchQuery } from './dto/batch-caption-request.dto.js';
import { BatchItemDto, BatchProgressDto, BatchSummaryDto } from './dto/batch-result.dto.js';
import { IdempotencyStore } from './idempotency.store.js';

type Sent = BatchItem | BatchProgress | BatchSummary;

const ROUTE = 'POST /batch-process';
const NDJSON = 'application/x-ndjson';

const isNdjson = (req: Request) => (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === NDJSON;

/**
 * Rate-limit units of a JSON batch: one per variation its requests ask for (`variation_count`,
 * default 3), counted over at most `BATCH_MAX_REQUESTS` of them. An NDJSON upload is charged item
 * by item as it is read.
 */
function batchCost(req: Request, config: AppConfig): number {
  if (isNdjson(req)) return 1;
  const requests = (req.body as { requests?: unknown } | undefined)?.requests;
  if (!Array.isArray(requests)) return 1;
  let units = 0;
  for (const r of requests.slice(0, config.batch.maxRequests)) units += countOf((r as { variation_count?: unknown } | null)?.variation_count, 3, 1, 10);
  return Math.max(1, units);
}

/** SSE event names: each result is a `result`, each chunk a `progress`, the summary is `done`. */
function sseEventOf(sent: Sent): string {
  if ('batch_id' in sent) return 'done';
  if ('elapsed' in sent) return 'progress';
  return 'result';
}

@ApiTags('batch')
@Controller()
export class BatchController {
  constructor(
    private readonly batch: BatchService,
    private readonly auth: RequestAuth,
  ) {}

  /**
   * `POST /batch-process`: a JSON `BatchCaptionRequest`, or an NDJSON upload of caption
   * requests (batch options in the query). Results stream as they finish in the `Accept` format:
   * a JSON array (default), NDJSON, or SSE with `progress` events per chunk and a `done` event.
   */
  @Post('batch-process')
  @RateCost(batchCost)
  @BodyMediaTypes('application/json', NDJSON)
  @ApiRequestContent({
    description:
      'application/json: a `BatchCaptionRequest`; application/x-ndjson: one `CaptionGenerationRequest` per line (batch options in ' +
      'the query). Each request is validated on its own: a bad one is a failed item of the results, never a refused batch.',
    json: BatchCaptionRequest,
    ndjsonItem: CaptionGenerationRequest,
    perItem: true,
  })
  @ApiStreamedResponse({
    item: BatchItemDto,
    closing: BatchSummaryDto,
    formats: ['json', 'ndjson', 'sse'],
    description: 'Results as they finish (a failed item never stops the others), then a `BatchSummaryDto`.',
    sseEvents: { result: BatchItemDto, progress: BatchProgressDto, done: BatchSummaryDto },
    headers: ['X-Streaming', 'X-Chunk-Size', 'X-Batch-Id', 'X-Batch-Size', 'Idempotent-Replayed'],
  })
  @ApiResponse({ status: 409, description: '`conflict`: a request with this Idempotency-Key is still running, or it finished with results too large to keep for replay', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } })
  @ApiResponse({ status: 503, description: '`not_ready`: the server is shutting down; `idempotency_unavailable`: no room to keep one more Idempotency-Key (retry after `Retry-After` seconds) or its store cannot be reached', headers: headerRefs('Retry-After'), content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } })
  async process(
    @Req() req: Request,
    @Res() res: Response,
    @Query() query: BatchQuery,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<void> {
    const format = negotiateFormat(req, ['json', 'ndjson', 'sse']);
    const raw = IdempotencyStore.validKey(idempotencyKey);
    // Each client has its own keys: the same key from two API keys names two batches.
    const key = raw === undefined ? undefined : `${this.auth.scope(req)}:${raw}`;
    const job = isNdjson(req) ? await this.batch.prepareNdjson(req, res, query, key, budgetOf(req)) : await this.batch.prepareJson(body, query, key);

    const headers: Record<string, string> = { 'X-Streaming': 'true', 'X-Chunk-Size': String(query.chunk_size) };
    if (job.kind === 'replay') headers['Idempotent-Replayed'] = 'true';
    else {
      headers['X-Batch-Id'] = job.options.batchId;
      if (job.total !== null) headers['X-Batch-Size'] = String(job.total);
    }
    const stream = new ResponseStream<Sent>(req, res, {
      format,
      route: ROUTE,
      chunkSize: query.chunk_size,
      compress: true,
      headers,
      sseEvent: sseEventOf,
      // The summary is sent as the `done` event itself.
      sseDone: () => undefined,
    });
    const sent$ = this.batch.run(job, { signal: stream.signal, ready: () => stream.ready() }).pipe(
      // Progress is an SSE event; a JSON array or NDJSON holds results and the summary only.
      filter((out) => format === 'sse' || out.kind !== 'progress'),
      map((out): Sent => (out.kind === 'item' ? out.item : out.kind === 'progress' ? out.progress : out.summary)),
    );
    await stream.send(sent$);
  }
}
