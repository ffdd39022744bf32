import { Controller, Get, Header, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import { ApiError } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import type { LoaderMonitor } from '../lazy-loader/loader-ports.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import { CacheClearResponseDto, CacheStatusResponseDto } from './dto/cache-response.dto.js';
import { StatsResponseDto } from './dto/stats-response.dto.js';

/** The lazy loader's figures and cache control. */
@Controller()
export class StatsController {
  constructor(
    @Inject(LazyLoaderService) private readonly loader: LoaderMonitor,
    private readonly config: AppConfig,
  ) {}

  /** The lazy loader's metrics, each a true figure measured since start, plus `cache_hit_rate` (≤ 1). */
  @Get('stats')
  @Header('Cache-Control', 'no-store')
  stats(): StatsResponseDto {
    return this.loader.status().stats;
  }

  /** Both cache tiers now: what they hold against their bounds, hits, misses, evictions, disk health. */
  @Get('cache/status')
  @Header('Cache-Control', 'no-store')
  async cacheStatus(): Promise<CacheStatusResponseDto> {
    const status = this.loader.status();
    const { memory, disk } = status.stats.tiers;
    const health = await this.loader.diskHealth();
    return {
      caching_enabled: status.caching_enabled,
      ttl_seconds: status.ttl_seconds,
      cache_hit_rate: status.stats.cache_hit_rate,
      memory: {
        enabled: status.memory.enabled,
        ...memory,
        max_entries: status.memory.max_entries,
        max_bytes: status.memory.max_bytes,
      },
      disk: {
        enabled: status.disk.enabled,
        healthy: health.ok,
        ...disk,
        max_entries: status.disk.max_entries,
        max_bytes: status.disk.max_bytes,
        free_mb: health.detail.free_mb === null ? null : Math.round(health.detail.free_mb),
      },
    };
  }

  /**
   * Empties both tiers (memory and disk). Loads in flight finish but are not cached. An admin
   * operation: in production it needs API keys to be configured (anonymous production,
   * `ALLOW_ANONYMOUS`, does not open it: 403).
   */
  @Post('cache/clear')
  @HttpCode(200)
  @ApiOkResponse({ type: CacheClearResponseDto })
  @ApiResponse({ status: 403, description: '`forbidden`: production without API keys: clearing the cache needs `API_KEYS`', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } })
  async clearCache(): Promise<CacheClearResponseDto> {
    if (this.config.env === 'production' && this.config.security.apiKeys.length === 0) {
      throw new ApiError(403, 'forbidden', 'Clearing the cache needs API keys (API_KEYS) in production');
    }
    const before = this.loader.status().stats.tiers;
    await this.loader.clearCache();
    const after = this.loader.status().stats.tiers;
    return {
      cleared: true,
      memory_entries_removed: Math.max(0, before.memory.entries - after.memory.entries),
      disk_entries_removed: Math.max(0, before.disk.entries - after.disk.entries),
      timestamp: Date.now() / 1000,
    };
  }
}
