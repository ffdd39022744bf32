import { LRUCache } from 'lru-cache';

interface MemoryEntry {
  items: unknown[];
  sizeBytes: number;
  accessCount: number;
  accessedAt: number;
}

export interface MemoryTierOptions {
  /** Byte budget (sum of entries' `sizeBytes`). */
  maxBytes: number;
  /** Entry budget. */
  maxEntries: number;
  /** Milliseconds an entry stays fresh. */
  ttlMs: number;
  /** Clock in ms; `Date.now` by default (so fake timers drive expiry). */
  now?: () => number;
}

/** A hit: `stale` when the entry has expired and the caller asked for stale entries. */
export interface MemoryHit {
  items: unknown[];
  sizeBytes: number;
  stale: boolean;
}

/**
 * The memory tier: lru-cache bounded in bytes (`maxSize`) and in entries (`max`), least recently
 * used first, with a TTL. On top, an access-count cleanup (least access count, then oldest access)
 * which the memory monitor runs past the memory threshold. Plain TypeScript, no Nest.
 */
export class MemoryTier {
  private readonly lru: LRUCache<string, MemoryEntry>;
  private readonly now: () => number;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(readonly options: MemoryTierOptions) {
    if (!(options.maxBytes >= 1)) throw new RangeError('maxBytes must be ≥ 1');
    if (!(Number.isInteger(options.maxEntries) && options.maxEntries >= 1)) throw new RangeError('maxEntries must be an integer ≥ 1');
    if (!(options.ttlMs > 0)) throw new RangeError('ttlMs must be > 0');
    // Read through `Date` on each call, so fake timers drive expiry.
    this.now = options.now ?? (() => Date.now());
    this.lru = new LRUCache<string, MemoryEntry>({
      max: options.maxEntries,
      maxSize: Math.floor(options.maxBytes),
      sizeCalculation: (e) => Math.max(1, e.sizeBytes),
      ttl: options.ttlMs,
      perf: { now: this.now },
      // No cached clock reading: expiry follows the clock exactly (the cost is one Date.now() a read).
      ttlResolution: 0,
      // Expired entries stay until read or evicted, so BACKGROUND can serve them while refreshing.
      allowStale: false,
      noDeleteOnStaleGet: true,
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') this.evictions++;
      },
    });
  }

  /**
   * Looks `key` up and counts a hit or a miss. An expired entry is a miss (and is dropped) unless
   * `allowStale`, in which case it is returned with `stale: true` and kept.
   */
  get(key: string, allowStale = false): MemoryHit | undefined {
    const status: LRUCache.Status<string, MemoryEntry> = {};
    const entry = this.lru.get(key, { allowStale, status });
    if (!entry) {
      if (status.get === 'stale') this.lru.delete(key);
      this.misses++;
      return undefined;
    }
    const stale = status.get === 'stale';
    if (!stale || allowStale) {
      entry.accessCount++;
      entry.accessedAt = this.now();
    }
    this.hits++;
    return { items: entry.items, sizeBytes: entry.sizeBytes, stale };
  }

  /** True when a fresh entry exists; neither counts nor touches recency. */
  has(key: string): boolean {
    return this.lru.has(key);
  }

  /** Stores a chunk; one larger than the whole budget is not stored. */
  set(key: string, items: unknown[], sizeBytes: number): void {
    this.lru.set(key, { items, sizeBytes, accessCount: 1, accessedAt: this.now() });
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  /** Drops every entry whose key starts with `prefix`. @returns how many. */
  deletePrefix(prefix: string): number {
    let n = 0;
    // dump() lists expired entries too: an invalidated stale chunk must not be served by BACKGROUND.
    for (const [key] of this.lru.dump()) {
      if (key.startsWith(prefix)) n += this.lru.delete(key) ? 1 : 0;
    }
    return n;
  }

  clear(): void {
    this.lru.clear();
  }

  /**
   * The access-count cleanup: removes entries with the fewest accesses first, the oldest access among
   * equals, until the tier holds at most `targetBytes`. @returns the number removed.
   */
  cleanup(targetBytes: number): number {
    if (this.lru.calculatedSize <= targetBytes) return 0;
    this.lru.purgeStale();
    const ranked = [...this.lru.entries()].sort(
      ([, a], [, b]) => a.accessCount - b.accessCount || a.accessedAt - b.accessedAt,
    );
    let removed = 0;
    for (const [key] of ranked) {
      if (this.lru.calculatedSize <= targetBytes) break;
      this.lru.delete(key);
      this.evictions++;
      removed++;
    }
    return removed;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  get entries(): number {
    return this.lru.size;
  }
}
