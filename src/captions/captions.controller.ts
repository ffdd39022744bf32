import { Body, Controller, Headers, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiStreamedResponse } from '../common/openapi/api-streamed-response.decorator.js';
import { countOf, RateCost } from '../common/security/rate-limit/rate-cost.guard.js';
import { negotiateFormat } from '../common/streaming/negotiation.js';
import { ResponseStream } from '../common/streaming/response-stream.js';
import { CaptionsService } from './captions.service.js';
import { CaptionGenerationRequest } from './dto/caption-generation-request.dto.js';
import { CaptionStreamItem, type CaptionGenerationResponse } from './dto/caption-generation-response.dto.js';
import { StreamCaptionsQuery } from './dto/stream-captions-query.dto.js';

/** Rate-limit units: one per variation drafted (the defaults are the DTOs'). */
const variationCount = (req: Request) => countOf((req.body as { variation_count?: unknown } | undefined)?.variation_count, 3, 1, 10);
const streamedVariations = (req: Request) => countOf(req.query.variations, 5, 1, 100);

/** `POST /captions` and `POST /stream-captions`. */
@Controller()
export class CaptionsController {
  constructor(private readonly captions: CaptionsService) {}

  /**
   * `variation_count` captions with their scores. A repeated identical request within the cache TTL
   * is served from the lazy loader's tiers (`cache_hit: true`); `Cache-Control: no-cache` drafts anew.
   */
  @Post('captions')
  @HttpCode(200)
  @RateCost(variationCount)
  async generate(
    @Body() body: CaptionGenerationRequest,
    @Headers('cache-control') cacheControl: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CaptionGenerationResponse | undefined> {
    // A client that leaves stops the drafting of variations it will never read.
    const left = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) left.abort();
    });
    try {
      return await this.captions.generate(body, { signal: left.signal, bypassCache: /\bno-cache\b/i.test(cacheControl ?? '') });
    } catch (err) {
      // Nobody is listening any more: not an error of ours, so nothing to answer or log.
      if (left.signal.aborted) return undefined;
      throw err;
    }
  }

  /**
   * `variations` captions as they are drafted, one item each: a JSON array (default),
   * NDJSON or SSE chosen by `Accept`; gzip or br only when `enable_compression` and
   * `Accept-Encoding` allow it. A failure after the first byte ends the stream with an error item.
   */
  @Post('stream-captions')
  @HttpCode(200)
  @RateCost(streamedVariations)
  @ApiStreamedResponse({
    item: CaptionStreamItem,
    formats: ['json', 'ndjson', 'sse'],
    description: 'The variations as they are made, `chunk_size` per write.',
    sseEvents: { variation: CaptionStreamItem, done: 'StreamDone' },
    headers: ['X-Streaming', 'X-Chunk-Size'],
  })
  async stream(
    @Body() body: CaptionGenerationRequest,
    @Query() query: StreamCaptionsQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    // Both checks answer with a status before the first byte; later failures end the stream with an error item.
    const format = negotiateFormat(req, ['json', 'ndjson', 'sse']);
    this.captions.assertSupported(body);
    const stream = new ResponseStream<CaptionStreamItem>(req, res, {
      format,
      route: 'POST /stream-captions',
      chunkSize: query.chunk_size,
      compress: query.enable_compression,
      headers: { 'X-Streaming': 'true', 'X-Chunk-Size': String(query.chunk_size) },
      sseEvent: 'variation',
    });
    await stream.send(this.captions.streamVariations(body, query.variations, { signal: stream.signal, ready: () => stream.ready() }));
  }
}
