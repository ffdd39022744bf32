import { Controller, Get, Header, HttpCode, Inject, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiError } from '../common/errors/api-error.js';
import { errorBody, mapError } from '../common/errors/error-body.js';
import { requestIdOf } from '../common/http/request-id.js';
import { residentMemoryBytes } from '../common/metrics/resident-memory.js';
import { RequestAuth } from '../common/security/request-auth.js';
import { MB } from '../config/units.js';
import type { LoaderMonitor } from '../lazy-loader/loader-ports.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import { HealthResponseDto, LivenessResponseDto, ReadinessResponseDto } from './dto/health-response.dto.js';
import { HealthService } from './health.service.js';
const UNHEALTHY_SCHEMA = {
  allOf: [
    { $ref: '#/components/schemas/ErrorBody' },
    { $ref: '#/components/schemas/HealthResponseDto' },
  ],
};

/**
 * The probes. Never rate limited, never behind an API key (Kubernetes sends none). Their status
 * codes are the same for every caller; their figures (memory, disk, heap) go only to an
 * authenticated caller ({@link RequestAuth.trusted}).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthService,
    @Inject(LazyLoaderService) private readonly loader: LoaderMonitor,
    private readonly auth: RequestAuth,
  ) {}

  /**
   * Overall health: 200 `healthy` when every readiness check passes, else 503
   * with `unhealthy` and the error body's fields, so a probe sees it.
   */
  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: HealthResponseDto, description: 'Healthy' })
  @ApiResponse({ status: 503, description: 'Unhealthy or shutting down: the health body and the error body in one', schema: UNHEALTHY_SCHEMA })
  async overall(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<HealthResponseDto> {
    const figures = this.auth.trusted(req);
    const { stats } = this.loader.status();
    const body = {
      ...(figures
        ? { memory_usage_mb: Math.round((residentMemoryBytes() / MB) * 10) / 10, active_resources: stats.active_chunks + stats.active_pages }
        : {}),
      timestamp: Date.now() / 1000,
    };
    try {
      await this.health.ready({ figures });
      return { status: 'healthy', lazy_loader: 'operational', ...body };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      res.status(503);
      return { ...errorBody(mapError(err), requestIdOf(req)), status: 'unhealthy', lazy_loader: 'degraded', ...body };
    }
  }

  /** Liveness: the process answers. Touches no dependency, so a database outage never restarts pods. */
  @Get('live')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  live(): LivenessResponseDto {
    return { status: 'ok' };
  }

  /**
   * Readiness: the database, the disk cache (open, writable, room left) and memory (resident
   * memory under the lazy loader's limit) are usable. 503 `unhealthy` naming each failed check in
   * `details`; 503 `not_ready` from the moment a graceful shutdown begins. With `REDIS_URL`, `redis`
   * is reported too (`up`, or `degraded` while unreachable) but never fails readiness: the service
   * keeps serving with its fallbacks.
   */
  @Get('ready')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: ReadinessResponseDto, description: 'Ready: every check is up' })
  @ApiResponse({ status: 503, description: '`unhealthy` (a check failed; `details` names it) or `not_ready` (shutting down)', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } })
  ready(@Req() req: Request): Promise<ReadinessResponseDto> {
    return this.health.ready({ figures: this.auth.trusted(req) }) as Promise<ReadinessResponseDto>;
  }
}
