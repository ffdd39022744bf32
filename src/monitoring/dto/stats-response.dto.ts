import { ApiInt } from '../../common/openapi/schema-rules.js';
/** Memory tier figures since start. */
export class MemoryTierStatsDto {
  @ApiInt() hits!: number;
  @ApiInt() misses!: number;
  /** Bytes held now: the estimated JS heap of the chunks' items (what `max_memory_mb` bounds). */
  @ApiInt() bytes!: number;
  /** Chunks held now. */
  @ApiInt() entries!: number;
  @ApiInt() evictions!: number;
}

/** Disk tier figures since start. */
export class DiskTierStatsDto {
  @ApiInt() hits!: number;
  @ApiInt() misses!: number;
  /** Bytes stored now (MessagePack, compressed when `LAZY_COMPRESSION_TYPE` says so). */
  @ApiInt() bytes!: number;
  @ApiInt() entries!: number;
  @ApiInt() evictions!: number;
  /** Entries that failed their integrity check on read (treated as misses and removed). */
  @ApiInt() corrupt!: number;
  @ApiInt() write_errors!: number;
}

/** Loads from the data source since start. */
export class SourceStatsDto {
  @ApiInt() loads!: number;
  @ApiInt() failures!: number;
  @ApiInt() timeouts!: number;
  @ApiInt() retries!: number;
}

export class TierStatsDto {
  memory!: MemoryTierStatsDto;
  disk!: DiskTierStatsDto;
  source!: SourceStatsDto;
}

/** `GET /stats`: the lazy loader's metrics, each measured, plus the hit rate and per-tier detail. */
export class StatsResponseDto {
  /** Chunks loaded from the source since start. */
  @ApiInt() total_chunks_loaded!: number;
  /** Pages served since start. */
  @ApiInt() total_pages_loaded!: number;
  /** Streams opened since start. */
  @ApiInt() total_streams!: number;
  /** Memory-tier hits. */
  @ApiInt() cache_hits!: number;
  /** Disk-tier hits. */
  @ApiInt() disk_cache_hits!: number;
  /** Bytes saved by compressing disk entries. */
  @ApiInt() compression_savings!: number;
  /** Resident memory of the process, MB. */
  memory_usage_mb!: number;
  /** Mean seconds of a chunk load from the source. */
  avg_chunk_load_time!: number;
  /** Mean seconds of a page load. */
  avg_page_load_time!: number;
  /** Chunks in the memory tier now. */
  @ApiInt() active_chunks!: number;
  /** Page loads in progress. */
  @ApiInt() active_pages!: number;
  /** Streams open now. */
  @ApiInt() active_streams!: number;
  /** Prefetches, refreshes and scheduled runs in progress. */
  @ApiInt() background_tasks!: number;
  /** Size of the disk tier, MB. */
  disk_cache_size_mb!: number;
  /** (memory hits + disk hits) ÷ chunk lookups, from 0 to 1; 0 before any lookup. */
  cache_hit_rate!: number;
  tiers!: TierStatsDto;
}
