import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiStreamedResponse } from '../common/openapi/api-streamed-response.decorator.js';
import { headerRefs } from '../common/openapi/response-headers.js';
import { clientIdentity } from '../common/security/api-key.middleware.js';
import { negotiateFormat } from '../common/streaming/negotiation.js';
import { ResponseStream } from '../common/streaming/response-stream.js';
import { AppConfig } from '../config/app-config.js';
import { HistoryPageDto, HistoryRowDto } from './history-page.dto.js';
import { EXPORT_FORMATS, HistoryExportQueryDto, HistoryPageQueryDto, toFilter } from './history-query.dto.js';
import { HistoryService, type HistoryPage } from './history.service.js';
import { RECORD_COLUMNS, recordCsv, recordJson, type HistoryRecord } from './history-records.js';

/**
 * `Link` (RFC 8288) with first, prev, next and, when the total is known, last. Relative URLs: no trust in Host.
 * `next` goes by cursor when the next page by number lies deeper than pages by number may reach.
 */
function linkHeader(req: Request, q: HistoryPageQueryDto, page: HistoryPage, withinReach: (page: number) => boolean): string {
  const base = req.originalUrl.split('?')[0];
  const keep: Record<string, string> = { page_size: String(q.page_size) };
  for (const k of ['user_id', 'style', 'date_from', 'date_to'] as const) if (q[k] !== undefined) keep[k] = q[k]!;
  if (!q.include_total) keep.include_total = 'false';
  const link = (rel: string, extra: Record<string, string>) =>
    `<${base}?${new URLSearchParams({ ...keep, ...extra }).toString()}>; rel="${rel}"`;
  const p = page.pagination;
  const links = [link('first', { page: '1' })];
  if (p.has_previous) {
    links.push(p.page !== null ? link('prev', { page: String(p.page - 1) }) : link('prev', { cursor: p.prev_cursor ?? '' }));
  }
  if (p.has_next) {
    links.push(
      p.page !== null && withinReach(p.page + 1) ? link('next', { page: String(p.page + 1) }) : link('next', { cursor: p.next_cursor ?? '' }),
    );
  }
  if (p.total_pages !== null) links.push(link('last', { page: String(Math.max(1, p.total_pages)) }));
  return links.join(', ');
}

/** Caption history: pages (by number or cursor) and a streamed export. */
@Controller('caption-history')
export class HistoryController {
  constructor(
    private readonly history: HistoryService,
    private readonly config: AppConfig,
  ) {}

  /** One page of caption history, newest first, by page number or by cursor, with true totals. */
  @Get()
  @ApiOkResponse({ type: HistoryPageDto, description: 'One page, newest first; `Link` carries first, prev, next (and last when the total is known)', headers: headerRefs('Link') })
  async list(@Query() q: HistoryPageQueryDto, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const page = await this.history.readPage({
      filter: toFilter(q),
      page: q.page,
      pageSize: q.page_size,
      cursor: q.cursor,
      includeTotal: q.include_total,
    });
    res.setHeader('Link', linkHeader(req, q, page, (n) => this.history.pageWithinReach(n, q.page_size)));
    return {
      success: true,
      data: page.items,
      pagination: page.pagination,
      metadata: { loaded_at: Date.now() / 1000, cache_hit: page.cacheHit, processing_time: page.processingTime },
    };
  }

  /** Every matching history row, streamed in constant memory as NDJSON, CSV or a JSON array. */
  @Get('export')
  @ApiStreamedResponse({
    item: HistoryRowDto,
    formats: ['ndjson', 'csv', 'json'],
    description:
      'Every matching row, newest first, streamed in constant memory; `format`, else `Accept`, picks the format. A client ' +
      'that takes nothing for `EXPORT_IDLE_TIMEOUT_MS`, or reads slower than `EXPORT_MIN_BYTES_PER_SECOND` over such a ' +
      'window, has its connection closed.',
    headers: ['Content-Disposition'],
  })
  @ApiResponse({
    status: 429,
    description:
      '`rate_limited`: over the rate limit, or `EXPORT_MAX_CONCURRENT` exports run already (`EXPORT_MAX_PER_CLIENT` ' +
      'for this API key, or this address when keys are off); retry after `Retry-After` seconds',
    headers: headerRefs('Retry-After'),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
  })
  async export(@Query() q: HistoryExportQueryDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const format = negotiateFormat(req, [...EXPORT_FORMATS], q.format);
    const filter = toFilter(q);
    const running = this.history.openExport(filter, clientIdentity(req, this.config.security.apiKeys.length > 0));
    try {
      const stream = new ResponseStream<HistoryRecord>(req, res, {
        format,
        route: 'GET /caption-history/export',
        compress: true,
        csvColumns: [...RECORD_COLUMNS],
        json: recordJson,
        csvRow: recordCsv,
        headers: { 'Content-Disposition': `attachment; filename="caption-history.${format}"` },
        idleTimeoutMs: this.config.exports.idleTimeoutMs,
        minBytesPerSecond: this.config.exports.minBytesPerSecond,
      });
      await stream.sendBatches(running.rows);
    } finally {
      await running.close();
    }
  }
}
