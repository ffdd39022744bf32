import { Controller, Get, Header } from '@nestjs/common';
import { ApiProduces } from '@nestjs/swagger';
import { metricsRegistry } from '../common/metrics/metrics.js';

/** Prometheus scrape target, at the root (`/metrics`); no API key, no rate limit. */
@Controller()
export class MetricsController {
  /** Every metric of the service in the Prometheus text format. */
  @Get('metrics')
  @ApiProduces(metricsRegistry.contentType)
  @Header('Content-Type', metricsRegistry.contentType)
  @Header('Cache-Control', 'no-store')
  metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
