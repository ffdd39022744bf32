import { LRUCache } from 'lru-cache';
import { keyOf, type HistoryRepository } from './history.repository.js';
import type { HistoryFilter, HistoryRow, SortKey } from './history.types.js';

/** The lazy loader's `ChunkSource` contract (docs/architecture.md), as history implements it. */
export interface HistoryChunkSource {
  key: string;
  chunkSize: number;
  loadChunk(index: number, ctx: { chunkSize: number; signal?: AbortSignal }): Promise<HistoryRow[]>;
}

/**
 * Where each chunk starts, learned lazily: entry `k` is the sort key of the last row of chunk
 * `k - 1`, so chunk `k` is one keyset read ("the next `chunkSize` rows older than entry k").
 *
 * - Reading chunk k learns entry k+1 for free (its last row).
 * - A jump to an unknown chunk hops from the nearest known entry, `chunkSize` rows at a time,
 *   through the index alone (`LIMIT 1 OFFSET chunkSize-1` from a key), keeping every hop; when the
 *   total is known and the chunk is nearer the end, one index read from the oldest end finds it.
 * So a deep page costs one keyset read once its boundary is known, and learning it costs index
 * steps, never an `OFFSET` over whole rows; each entry is learned once per data version.
 */
export class ChunkBoundaries {
  private readonly maps: LRUCache<string, Map<number, SortKey>>;

  /**
   * @param ttlMs how long a filter's boundaries are kept. The source key names the data version, so
   *   a write anywhere moves readers to a new key (and new boundaries); old ones just age out.
   */
  constructor(
    private readonly repo: HistoryRepository,
    readonly chunkSize: number,
    ttlMs = 3_600_000,
  ) {
    this.maps = new LRUCache({ max: 512, ttl: ttlMs });
  }

  /** Forgets everything (a write moved the rows). */
  clear(): void {
    this.maps.clear();
  }

  /** How many entries are known for a source (for tests and stats). */
  known(sourceKey: string): number {
    return this.maps.get(sourceKey)?.size ?? 0;
  }

  /** A chunk source over `filter`; `sourceKey` must name the filter and the data version. */
  source(sourceKey: string, filter: HistoryFilter, totalItems: number | null): HistoryChunkSource {
    return {
      key: sourceKey,
      chunkSize: this.chunkSize,
      loadChunk: async (index) => {
        const from = await this.entry(sourceKey, filter, index, totalItems);
        if (from === null) return [];
        const rows = await this.repo.findRows(filter, { from, direction: 'older', limit: this.chunkSize });
        if (rows.length === this.chunkSize) this.map(sourceKey).set(index + 1, keyOf(rows.at(-1)!));
        return rows;
      },
    };
  }

  private map(sourceKey: string): Map<number, SortKey> {
    let m = this.maps.get(sourceKey);
    if (!m) {
      m = new Map();
      this.maps.set(sourceKey, m);
    }
    return m;
  }

  /** Entry `k`: undefined for chunk 0 (read from the newest row), null when chunk k is past the end. */
  private async entry(sourceKey: string, filter: HistoryFilter, k: number, total: number | null): Promise<SortKey | undefined | null> {
    if (k === 0) return undefined;
    const m = this.map(sourceKey);
    const hit = m.get(k);
    if (hit) return hit;
    const lastOfPrevious = k * this.chunkSize - 1;
    if (total !== null && lastOfPrevious + 1 >= total) return null;

    let j = 0;
    for (const known of m.keys()) if (known < k && known > j) j = known;
    if (total !== null) {
      const fromOldest = total - 1 - lastOfPrevious;
      if (fromOldest < (k - j) * this.chunkSize) {
        const key = await this.repo.seekKey(filter, { direction: 'newer', skip: fromOldest });
        if (key) m.set(k, key);
        return key ?? null;
      }
    }
    let from = j === 0 ? undefined : m.get(j);
    for (let i = j + 1; i <= k; i++) {
      const key = await this.repo.seekKey(filter, { from, direction: 'older', skip: this.chunkSize - 1 });
      if (!key) return null;
      m.set(i, key);
      from = key;
    }
    return from!;
  }
}
