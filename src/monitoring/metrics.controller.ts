import { Controller, Get, Header, Req } from '@nestjs/common';
import { ApiProduces } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiError } from '../common/errors/api-error.js';
import { metricsRegistry } from '../common/metrics/metrics.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsAccess } from './metrics-access.js';

/**
 * Prometheus scrape target, at the root (`/metrics`): never rate limited; behind `METRICS_TOKEN`
 * or an API key when either is configured; absent here (404) when `METRICS_PORT` serves it on a
 * port of its own.
 */
@Controller()
export class MetricsController {
  constructor(
    private readonly access: MetricsAccess,
    private readonly config: AppConfig,
  ) {}

  /** Every metric of the service in the Prometheus text format. */
  @Get('metrics')
  @ApiProduces(metricsRegistry.contentType)
  @Header('Content-Type', metricsRegistry.contentType)
  @Header('Cache-Control', 'no-store')
  metrics(@Req() req: Request): Promise<string> {
    if (this.config.monitoring.metricsPort !== undefined) {
      throw new ApiError(404, 'not_found', 'Cannot GET /metrics');
    }
    const level = this.access.decide(req);
    if (level === 'denied') throw MetricsAccess.unauthorized();
    return this.access.render(level);
  }
}
