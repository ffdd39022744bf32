import { ApiInt } from '../../common/openapi/schema-rules.js';
/**
 * `GET /health`: overall health, with true values. The figures (`memory_usage_mb`,
 * `active_resources`) are sent only to an authenticated caller (a valid API key; without API keys,
 * to anyone outside production).
 */
export class HealthResponseDto {
  /** `healthy`, or `unhealthy` (with a 503). */
  status!: 'healthy' | 'unhealthy';
  /** `operational`, or `degraded` when a check fails. */
  lazy_loader!: 'operational' | 'degraded';
  /** Resident memory of the process, MB. Authenticated callers only. */
  memory_usage_mb?: number;
  /** Chunks held in memory plus page loads in progress. Authenticated callers only. */
  @ApiInt() active_resources?: number;
  /** Unix time in seconds. */
  timestamp!: number;
}

/** One readiness check. */
export class CheckResultDto {
  /** `degraded`: only `redis`, which is reported but never makes readiness fail. */
  status!: 'up' | 'down' | 'degraded';
}

/**
 * `GET /health/ready` when ready: every check (terminus' shape), with its figures (free disk,
 * resident memory, heap) for an authenticated caller only; others see each check's status.
 */
export class ReadinessResponseDto {
  status!: 'ok';
  /**
   * The checks that are not down, by name (`database`, `disk_cache`, `memory`, and `redis` with
   * `REDIS_URL`: `up`, or `degraded` while unreachable; the service keeps serving with its fallbacks).
   */
  info!: Record<string, CheckResultDto>;
  /** The checks that are down (empty when ready). */
  error!: Record<string, CheckResultDto>;
  /** Every check, by name. */
  details!: Record<string, CheckResultDto>;
}

/** `GET /health/live`. */
export class LivenessResponseDto {
  status!: 'ok';
}
