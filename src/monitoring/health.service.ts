import { Injectable, Logger } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult, type HealthIndicatorResult } from '@nestjs/terminus';
import { randomUUID } from 'node:crypto';
import { mkdir, statfs, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { ApiError } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import { ShutdownState } from './shutdown-state.js';

const MB = 1024 * 1024;
/** A check slower than this counts as down: a probe must answer quickly. */
const CHECK_TIMEOUT_MS = 2000;
/** Past this share of V8's heap limit the process is about to fail allocations. */
const HEAP_LIMIT_SHARE = 0.9;

/** A dependency is down: the message names the problem, never a path or a driver's text. */
class CheckFailed extends Error {}

/**
 * The readiness checks behind `/health/ready` and `/health`, run through @nestjs/terminus.
 * Each indicator reports a short reason when down; errors are reduced to their code so no path,
 * SQL or driver message reaches a probe's body.
 */
@Injectable()
export class HealthService {
  private readonly logger = new Logger('Health');
  private lastHealthy = true;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly config: AppConfig,
    private readonly shutdown: ShutdownState,
  ) {}

  /**
   * Runs every readiness check. Resolves with terminus' result when all are up.
   * @throws ApiError 503 `not_ready` while shutting down, 503 `unhealthy` naming each failed check.
   */
  async ready(): Promise<HealthCheckResult> {
    if (this.shutdown.shuttingDown) {
      throw new ApiError(503, 'not_ready', 'The server is shutting down', [
        { field: 'shutdown', message: 'the server is shutting down' },
      ]);
    }
    try {
      const result = await this.health.check([() => this.diskCache(), () => this.memory()]);
      this.noteHealthy(true);
      return result;
    } catch (err) {
      const result = (err as { getResponse?: () => unknown }).getResponse?.() as HealthCheckResult | undefined;
      if (!result?.details) throw err;
      const details = Object.entries(result.error ?? {}).map(([field, v]) => ({
        field,
        message: String((v as { message?: unknown }).message ?? 'down'),
      }));
      this.noteHealthy(false, details.map((d) => `${d.field}: ${d.message}`).join('; '));
      throw new ApiError(503, 'unhealthy', `Unhealthy: ${details.map((d) => d.field).join(', ')}`, details);
    }
  }

  /** The disk tier's directory takes a write and has room for the tier's budget. */
  private diskCache(): PromiseLike<HealthIndicatorResult<'disk_cache'>> {
    const dir = this.config.lazyLoader.diskCacheDir;
    const requiredBytes = this.config.lazyLoader.diskCacheMaxMb * MB;
    return this.indicator
      .check('disk_cache')
      .attempt(async () => {
        const probe = join(dir, `.probe-${randomUUID()}`);
        try {
          await mkdir(dir, { recursive: true });
          await writeFile(probe, 'ok');
          await unlink(probe);
        } catch (err) {
          throw new CheckFailed(`directory not writable (${codeOf(err)})`);
        }
        const fs = await statfs(dir);
        const freeBytes = fs.bavail * fs.bsize;
        const free_mb = Math.round(freeBytes / MB);
        if (freeBytes < requiredBytes) {
          throw new CheckFailed(`${free_mb} MB free, the disk cache needs ${Math.round(requiredBytes / MB)} MB`);
        }
        return { free_mb };
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  /** V8 heap use against its limit. */
  private memory(): PromiseLike<HealthIndicatorResult<'memory'>> {
    return this.indicator
      .check('memory')
      .attempt(() => {
        const heap = getHeapStatistics();
        const heap_used_mb = Math.round(heap.used_heap_size / MB);
        const heap_limit_mb = Math.round(heap.heap_size_limit / MB);
        if (heap.used_heap_size > heap.heap_size_limit * HEAP_LIMIT_SHARE) {
          throw new CheckFailed(`heap ${heap_used_mb} MB of ${heap_limit_mb} MB`);
        }
        return { heap_used_mb, heap_limit_mb, rss_mb: Math.round(process.memoryUsage.rss() / MB) };
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

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}
