import { ApiInt } from '../../common/openapi/schema-rules.js';
/** The memory tier: bounded by bytes and by entries. */
export class MemoryCacheStatusDto {
  enabled!: boolean;
  @ApiInt() entries!: number;
  @ApiInt() max_entries!: number;
  @ApiInt() bytes!: number;
  @ApiInt() max_bytes!: number;
  @ApiInt() hits!: number;
  @ApiInt() misses!: number;
  @ApiInt() evictions!: number;
}

/** The persistent disk tier. */
export class DiskCacheStatusDto {
  enabled!: boolean;
  /** Open, writable and with room left. */
  healthy!: boolean;
  @ApiInt() entries!: number;
  @ApiInt() max_entries!: number;
  @ApiInt() bytes!: number;
  @ApiInt() max_bytes!: number;
  @ApiInt() hits!: number;
  @ApiInt() misses!: number;
  @ApiInt() evictions!: number;
  @ApiInt() corrupt!: number;
  @ApiInt() write_errors!: number;
  /** Free space on its volume, MB; null when unknown. */
  @ApiInt() free_mb!: number | null;
}

/** `GET /cache/status`: the lazy loader's two cache tiers now. */
export class CacheStatusResponseDto {
  /** Off means every read goes to the source. */
  caching_enabled!: boolean;
  /** Seconds a cached chunk stays fresh. */
  ttl_seconds!: number;
  /** (memory hits + disk hits) ÷ lookups, never above 1. */
  cache_hit_rate!: number;
  memory!: MemoryCacheStatusDto;
  disk!: DiskCacheStatusDto;
}

/** `POST /cache/clear`: what was removed. */
export class CacheClearResponseDto {
  cleared!: true;
  /** Chunks removed from the memory tier. */
  @ApiInt() memory_entries_removed!: number;
  /** Entries removed from the disk tier. */
  @ApiInt() disk_entries_removed!: number;
  /** Unix time in seconds. */
  timestamp!: number;
}
