import { Inject, Injectable, Logger } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult, type HealthIndicatorResult } from '@nestjs/terminus';
import { getHeapStatistics } from 'node:v8';
import { ApiError } from '../common/errors/api-error.js';
import { HistoryRepository } from '../history/history.repository.js';
import type { LoaderMonitor } from '../lazy-loader/loader-ports.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import { ShutdownState } from '../common/lifecycle/shutdown-state.js';
import { RedisConnection } from '../common/redis/redis-connection.js';
import { MB } from '../config/units.js';
/** A check slower than this counts as down: a probe must answer quickly. */
const CHECK_TIMEOUT_MS = 2000;
/** Past this share of V8's heap limit the process is about to fail allocations. */
const HEAP_LIMIT_SHARE = 0.9;
const round = (n: number) => Math.round(n * 10) / 10;

/** A dependency is down: the message names the problem, never a path or a driver's text. */
class CheckFailed extends Error {}

/** Each check of `result` with its status alone (no figures, no timings). */
function statusOnly(result: HealthCheckResult): HealthCheckResult {
  const strip = (checks: Partial<Record<string, { status: string }>> | undefined) =>
    Object.fromEntries(Object.entries(checks ?? {}).map(([name, check]) => [name, { status: check!.status }])) as HealthCheckResult['details'];
  return { status: result.status, info: strip(result.info), error: strip(result.error), details: strip(result.details) };
}

/** What a caller of the probes may see. */
export interface ReadinessView {
  /** Figures (free disk, resident memory, heap) in results and failure messages. */
  figures: boolean;
}

/**
 * The readiness checks behind `/health/ready` and `/health`, run through @nestjs/terminus.
 * Each indicator reports a short reason of its own when down, so no path, SQL or driver message
 * reaches a probe's body (the full error goes to the log).
 */
@Injectable()
export class HealthService {
  private readonly logger = new Logger('Health');
  private lastHealthy = true;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(LazyLoaderService) private readonly loader: LoaderMonitor,
    private readonly history: HistoryRepository,
    private readonly shutdown: ShutdownState,
    private readonly redis: RedisConnection,
  ) {}

  /**
   * Runs every readiness check. Resolves with terminus' result when all are up; without
   * `view.figures`, each check reports its status alone and failure messages carry no figure.
   * @throws ApiError 503 `not_ready` while shutting down, 503 `unhealthy` naming each failed check.
   */
  async ready(view: ReadinessView = { figures: true }): Promise<HealthCheckResult> {
    if (this.shutdown.shuttingDown) {
      throw new ApiError(503, 'not_ready', 'The server is shutting down', [
        { field: 'shutdown', message: 'the server is shutting down' },
      ]);
    }
    try {
      const result = this.withRedis(await this.health.check([() => this.database(), () => this.diskCache(view), () => this.memory(view)]), view);
      this.noteHealthy(true);
      return view.figures ? result : statusOnly(result);
    } catch (err) {
      const result = (err as { getResponse?: () => unknown }).getResponse?.() as HealthCheckResult | undefined;
      if (!result?.details) throw err;
      const details = Object.entries(result.error ?? {}).map(([field, v]) => ({
        field,
        message: describeDown(v),
      }));
      this.noteHealthy(false, details.map((d) => `${d.field}: ${d.message}`).join('; '));
      throw new ApiError(503, 'unhealthy', `Unhealthy: ${details.map((d) => d.field).join(', ')}`, details);
    }
  }

  /**
   * The shared Redis (only with `REDIS_URL`), reported but never failing readiness: while it is down
   * every replica serves with its fallbacks (cache misses, a per-process rate limit, batch jobs
   * waiting), so taking replicas out would turn a degraded service into no service. `up` while
   * connected, else `degraded`; alert on `redis_connected == 0`.
   */
  private withRedis(result: HealthCheckResult, view: ReadinessView): HealthCheckResult {
    if (!this.redis.enabled) return result;
    const redis = this.redis.ready
      ? { status: 'up' as const }
      : {
          status: 'degraded' as const,
          ...(view.figures ? { message: 'shared Redis unreachable: caches and rate limits fall back to this process, batch jobs wait' } : {}),
        };
    return { ...result, info: { ...result.info, redis }, details: { ...result.details, redis } };
  }

  /** The caption history database answers a trivial query. */
  private database(): PromiseLike<HealthIndicatorResult<'database'>> {
    return this.indicator
      .check('database')
      .attempt(async () => {
        try {
          await this.history.ping();
        } catch (err) {
          this.logger.warn({ err }, 'Database check failed');
          throw new CheckFailed('database unreachable');
        }
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  /** The lazy loader's disk tier: open, its directory writable, room left on the volume. Up when the tier is off. */
  private diskCache(view: ReadinessView): PromiseLike<HealthIndicatorResult<'disk_cache'>> {
    return this.indicator
      .check('disk_cache')
      .attempt(async () => {
        if (!this.loader.status().disk.enabled) return view.figures ? { enabled: false } : {};
        const { ok, detail } = await this.loader.diskHealth();
        const free_mb = detail.free_mb === null ? null : Math.round(detail.free_mb);
        if (!ok) {
          if (detail.error) this.logger.warn({ err: detail.error }, 'Disk cache check failed');
          const low = view.figures ? `only ${free_mb} MB free` : 'low on free space';
          const why = !detail.open ? 'not open' : !detail.writable ? 'directory not writable' : low;
          throw new CheckFailed(`disk cache ${why}`);
        }
        return view.figures ? { enabled: true, free_mb, size_mb: round(detail.size_mb), entries: detail.entries } : {};
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  /**
   * Resident memory against the lazy loader's limit (`max_memory_mb`; both in MB, never GB against a
   * fraction), and V8's heap against its own limit.
   */
  private memory(view: ReadinessView): PromiseLike<HealthIndicatorResult<'memory'>> {
    return this.indicator
      .check('memory')
      .attempt(() => {
        const rss = process.memoryUsage.rss();
        const limit = this.loader.status().memory.max_bytes;
        const heap = getHeapStatistics();
        const figures = { rss_mb: round(rss / MB), limit_mb: round(limit / MB), heap_used_mb: round(heap.used_heap_size / MB) };
        if (rss > limit) {
          throw new CheckFailed(view.figures ? `resident memory ${figures.rss_mb} MB is over the ${figures.limit_mb} MB limit` : 'resident memory over the limit');
        }
        if (heap.used_heap_size > heap.heap_size_limit * HEAP_LIMIT_SHARE) {
          throw new CheckFailed(view.figures ? `heap ${figures.heap_used_mb} MB of ${round(heap.heap_size_limit / MB)} MB` : 'heap near its limit');
        }
        return view.figures ? figures : {};
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  /** Logs transitions only, so a failing probe every few seconds does not flood the log. */
  private noteHealthy(healthy: boolean, why?: string): void {
    if (healthy === this.lastHealthy) return;
    this.lastHealthy = healthy;
    if (healthy) this.logger.log('Ready again');
    else this.logger.warn(`Not ready: ${why}`);
  }
}

/** A failed check's own message, or `down` when it gave none. */
function describeDown(check: unknown): string {
  const message = (check as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : 'down';
}
