import { Controller, Get, Header, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import { ApiError } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import { MB } from '../config/units.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import { CacheClearResponseDto, CacheStatusResponseDto } from './dto/cache-response.dto.js';
import { StatsResponseDto } from './dto/stats-response.dto.js';

/** The lazy loader's figures and cache control. */
@Controller()
export class StatsController {
  constructor(
    private readonly loader: LazyLoaderService,
    private readonly config: AppConfig,
  ) {}

  /** The lazy loader's metrics, each a true figure measured since start, plus `cache_hit_rate` (≤ 1). */
  @Get('stats')
  @Header('Cache-Control', 'no-store')
  stats(): StatsResponseDto {
    return this.loader.getStats();
  }

  /** Both cache tiers now: what they hold against their bounds, hits, misses, evictions, disk health. */
  @Get('cache/status')
  @Header('Cache-Control', 'no-store')
  async cacheStatus(): Promise<CacheStatusResponseDto> {
    const { config } = this.loader;
    const stats = this.loader.getStats();
    const { memory, disk } = stats.tiers;
    const health = await this.loader.isDiskCacheHealthy();
    return {
      caching_enabled: config.enable_caching,
      ttl_seconds: config.cache_ttl,
      cache_hit_rate: stats.cache_hit_rate,
      memory: {
        enabled: this.loader.memory !== null,
        ...memory,
        max_entries: config.chunk_config.max_chunks_in_memory,
        max_bytes: config.max_memory_mb * MB,
      },
      disk: {
        enabled: this.loader.disk !== null,
        healthy: health.ok,
        ...disk,
        max_entries: config.cache_size,
        max_bytes: config.disk_cache_max_mb * MB,
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
    const before = this.loader.getStats().tiers;
    await this.loader.clearCache();
    const after = this.loader.getStats().tiers;
    return {
      cleared: true,
      memory_entries_removed: Math.max(0, before.memory.entries - after.memory.entries),
      disk_entries_removed: Math.max(0, before.disk.entries - after.disk.entries),
      timestamp: Date.now() / 1000,
    };
  }
}
