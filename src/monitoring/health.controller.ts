import { Controller, Get, Header, HttpCode } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import type { HealthCheckResult } from '@nestjs/terminus';
import { HealthService } from './health.service.js';

/** The probes. Never rate limited, never behind an API key (Kubernetes sends none). */
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** Liveness: the process answers. Touches no dependency, so a database outage never restarts pods. */
  @Get('live')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Readiness: the database, the disk cache directory (writable, room for its budget) and memory
   * are usable. 503 when one is not, and from the moment a graceful shutdown begins.
   */
  @Get('ready')
  @Header('Cache-Control', 'no-store')
  ready(): Promise<HealthCheckResult> {
    return this.health.ready();
  }
}
