import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ApiError } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import type { PageInfo } from '../lazy-loader/lazy-loader.types.js';
import { ExportSlots } from './export-slots.js';
import { ChunkBoundaries } from './history-chunks.js';
import { filterFingerprint, HistoryCursorCodec, type CursorPosition } from './history-cursor.js';
import { HistoryRepository, keyOf, type GuardedRows } from './history.repository.js';
import { affectedPrefixes, DataVersionCache, scopeOfFilter, scopePrefix } from './history-versions.js';
import type { HistoryFilter, HistoryRow, NewHistoryRow } from './history.types.js';

/** Rows per chunk of history unless LAZY_CHUNK_SIZE says otherwise (the unit the page path caches). */
export const HISTORY_CHUNK_SIZE = 1000;
const KEY_PREFIX = 'history:';
/** What a refused export is told to wait: exports run for seconds to minutes, so retrying sooner only adds load. */
export const EXPORT_RETRY_AFTER_SECONDS = 5;

export interface HistoryPageRequest {
  filter: HistoryFilter;
  page: number;
  pageSize: number;
  cursor?: string;
  includeTotal: boolean;
}

/** A running export: its rows, and `close()` (idempotent) that closes the cursor and frees the export's slot. */
export interface HistoryExport {
  rows: AsyncIterableIterator<HistoryRow>;
  close(): Promise<void>;
}

export interface HistoryPage {
  items: HistoryRow[];
  /** `page` is null when walking by cursor (the position is not computed). */
  pagination: Omit<PageInfo, 'page'> & { page: number | null; next_cursor: string | null; prev_cursor: string | null };
  cacheHit: boolean;
  processingTime: number;
}

/** Caption history: records generated variations and reads them back in pages or as a whole. */
@Injectable()
export class HistoryService implements OnModuleInit, OnModuleDestroy {
  /**
   * The data versions, read from the database (each trusted for `HISTORY_FRESHNESS_MS`) and part
   * of every cache key: nothing cached before a write that can change a view is served after it,
   * on any instance sharing the database, and a key stays valid across restarts.
   */
  private readonly versions: DataVersionCache;
  private readonly logger = new Logger(HistoryService.name);
  /** The running drop of stale chunks, and the key prefixes still to drop. */
  private dropping?: Promise<void>;
  private readonly toDrop = new Set<string>();
  private readonly boundaries: ChunkBoundaries;
  private readonly maxOffset: number;
  private codec!: HistoryCursorCodec;
  /** Running exports, in all and per client. */
  readonly exportSlots: ExportSlots;

  constructor(
    private readonly repo: HistoryRepository,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    private readonly lazyLoader: LazyLoaderService,
    config: AppConfig,
  ) {
    this.boundaries = new ChunkBoundaries(repo, config.lazyLoader.chunkSize ?? HISTORY_CHUNK_SIZE, config.lazyLoader.cacheTtlSeconds * 1000);
    this.maxOffset = config.history.maxOffset;
    this.exportSlots = new ExportSlots(config.exports.maxConcurrent, config.exports.maxPerClient);
    this.versions = new DataVersionCache((scopes) => repo.readVersions(scopes), config.history.freshnessMs);
  }

  /**
   * Whether page `page` of `pageSize` rows may be read by number: its last row must lie within the
   * configured depth (`page × pageSize ≤ HISTORY_MAX_OFFSET`), because reaching a page by number
   * walks the index from the newest row. Deeper rows are read by cursor, which costs the same at
   * any depth.
   */
  pageWithinReach(page: number, pageSize: number): boolean {
    return page * pageSize <= this.maxOffset;
  }

  async onModuleInit(): Promise<void> {
    this.codec = new HistoryCursorCodec(await this.repo.cursorSecret());
  }

  /**
   * Stores generated variations and raises the data versions of their scopes, in one transaction.
   * This instance serves the new versions at once; others within `HISTORY_FRESHNESS_MS`. Views the
   * rows cannot change (another user's, another style's) keep their cached counts and chunks.
   */
  async record(rows: NewHistoryRow[]): Promise<void> {
    if (rows.length === 0) return;
    this.versions.learn(await this.repo.insertMany(rows));
    // The new versions alone make the older keys unreachable (correctness needs nothing more);
    // dropping the stale chunks only frees the tiers, so it runs behind the write, at most one at
    // a time for a burst of writes, instead of making every insert wait on the disk tier.
    this.dropStaleChunks(affectedPrefixes(rows).map((p) => `${KEY_PREFIX}${p}`));
  }

  /**
   * {@link record} for rows tied to a write that must happen once: in one transaction, each
   * entry's guard runs and only a guard that took stores its rows (see
   * `HistoryRepository.insertGuarded`). Returns which guards took.
   */
  async recordGuarded(entries: ReadonlyArray<GuardedRows>): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const { applied, versions } = await this.repo.insertGuarded(entries);
    this.versions.learn(versions);
    const rows = entries.flatMap((e, i) => (applied[i] ? e.rows : []));
    if (rows.length > 0) this.dropStaleChunks(affectedPrefixes(rows).map((p) => `${KEY_PREFIX}${p}`));
    return applied;
  }

  /** Settles when no drop of stale chunks is running (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.dropping) await this.dropping;
  }

  /** Shutdown: let a running drop finish before the lazy loader closes its tiers. */
  async onModuleDestroy(): Promise<void> {
    await this.settled();
  }

  /**
   * Drops the chunks under `prefixes` from the loader's tiers (the current version's too, which
   * then reload once). Only this instance's tiers: chunks that other instances hold of an older
   * version are unreachable there too and expire by TTL or give way to newer ones.
   */
  private dropStaleChunks(prefixes: string[]): void {
    for (const p of prefixes) this.toDrop.add(p);
    if (this.dropping) return;
    this.dropping = (async () => {
      while (this.toDrop.size > 0) {
        const batch = [...this.toDrop];
        this.toDrop.clear();
        try {
          for (const p of batch) await this.lazyLoader.invalidate(p);
        } catch (err) {
          this.logger.warn({ err }, 'Dropping stale history chunks failed; they expire by TTL');
        }
      }
      this.dropping = undefined;
    })();
  }

  /**
   * `history:<user>.<style>:<filter fingerprint>@<data version>`: the scopes first, so a write can
   * drop what it changed by prefix; the version last, read from the database, so the key is the same
   * on every instance and after a restart.
   */
  private async sourceKey(filter: HistoryFilter): Promise<string> {
    const version = await this.versions.versionOf([scopeOfFilter(filter)]);
    return `${KEY_PREFIX}${scopePrefix(filter)}${filterFingerprint(filter)}@${version}`;
  }

  /** The number of matching rows, from the keyed cache while no write that can change it happened since. */
  async count(filter: HistoryFilter, sourceKey?: string): Promise<number> {
    const key = `${sourceKey ?? (await this.sourceKey(filter))}:count`;
    const cached = await this.cache.get<number>(key);
    if (typeof cached === 'number') return cached;
    const n = await this.repo.count(filter);
    await this.cache.set(key, n);
    return n;
  }

  /**
   * One page, by number (through chunks whose boundaries are learned lazily, see ChunkBoundaries)
   * or by cursor (one keyset read).
   * @throws ApiError 422 on `cursor` when it is forged or belongs to other filters.
   * @throws ApiError 422 on `page` when, without a cursor, the page lies deeper than {@link pageWithinReach} allows.
   */
  async readPage(req: HistoryPageRequest): Promise<HistoryPage> {
    const started = process.hrtime.bigint();
    if (req.cursor === undefined && !this.pageWithinReach(req.page, req.pageSize)) {
      const last = Math.floor(this.maxOffset / req.pageSize);
      throw ApiError.invalid(
        'page',
        `must keep page × page_size within the first ${this.maxOffset} rows (with page_size ${req.pageSize}, at most page ${last}); ` +
          'read deeper with cursor pagination: pass a page\'s next_cursor as cursor',
      );
    }
    const position = req.cursor === undefined ? undefined : this.codec.decode(req.cursor, req.filter);
    const sourceKey = await this.sourceKey(req.filter);
    const total = req.includeTotal ? await this.count(req.filter, sourceKey) : null;
    const result = position
      ? { ...(await this.readByCursor(req, position)), page: null, cacheHit: false }
      : await this.readByNumber(req, sourceKey, total);
    const totalPages = total === null ? null : Math.ceil(total / req.pageSize);
    const { items, hasNext, hasPrevious } = result;
    return {
      items,
      pagination: {
        page: result.page,
        page_size: req.pageSize,
        total_items: total,
        total_pages: totalPages,
        has_next: hasNext,
        has_previous: hasPrevious,
        next_cursor: hasNext && items.length > 0 ? this.codec.encode({ key: keyOf(items.at(-1)!), direction: 'older' }, req.filter) : null,
        prev_cursor: hasPrevious && items.length > 0 ? this.codec.encode({ key: keyOf(items[0]!), direction: 'newer' }, req.filter) : null,
      },
      cacheHit: result.cacheHit,
      processingTime: Number(process.hrtime.bigint() - started) / 1e9,
    };
  }

  private async readByNumber(req: HistoryPageRequest, sourceKey: string, total: number | null) {
    const source = this.boundaries.source(sourceKey, req.filter, total);
    // PAGINATED: the loader maps the page onto cached chunks and prefetches the ones after it.
    const { items, pageInfo, cacheHit } = await this.lazyLoader.loadPage(source, req.page, req.pageSize, { totalItems: total });
    return { items, hasNext: pageInfo.has_next, hasPrevious: pageInfo.has_previous, page: req.page, cacheHit };
  }

  /** Rows past the cursor's key, one more than asked to know whether more follow; the other side is one index probe. */
  private async readByCursor(req: HistoryPageRequest, position: CursorPosition) {
    const rows = await this.repo.findRows(req.filter, { from: position.key, direction: position.direction, limit: req.pageSize + 1 });
    const more = rows.length > req.pageSize;
    // Rows come newest first; the extra row is the farthest from the key.
    const items = position.direction === 'older' ? rows.slice(0, req.pageSize) : rows.slice(more ? 1 : 0);
    const back = position.direction === 'older' ? 'newer' : 'older';
    const edge = items.length === 0 ? position.key : keyOf(position.direction === 'older' ? items[0]! : items.at(-1)!);
    const behind = (await this.repo.seekKey(req.filter, { from: edge, direction: back, skip: 0 })) !== undefined;
    return position.direction === 'older'
      ? { items, hasNext: more, hasPrevious: behind }
      : { items, hasNext: behind, hasPrevious: more };
  }

  /**
   * Starts an export for `client`: every matching row, newest first, straight from a database
   * cursor (on a connection of its own). Call `close()` when the export ends, however it ends.
   * @throws ApiError 429 `rate_limited` (with a retry delay) when `EXPORT_MAX_CONCURRENT` exports
   *   run already, or `EXPORT_MAX_PER_CLIENT` of this client's.
   */
  openExport(filter: HistoryFilter, client: string): HistoryExport {
    const slot = this.exportSlots.acquire(client);
    if (slot === 'client' || slot === 'service') {
      const why =
        slot === 'client'
          ? `You already run ${this.exportSlots.maxPerClient} exports at once, the most one client may`
          : `The service already runs ${this.exportSlots.maxConcurrent} exports at once, the most it may`;
      throw ApiError.rateLimited(`${why}: retry after the number of seconds in Retry-After`, EXPORT_RETRY_AFTER_SECONDS);
    }
    let rows: AsyncIterableIterator<HistoryRow>;
    try {
      rows = this.repo.streamRows(filter);
    } catch (err) {
      slot.release();
      throw err;
    }
    return {
      rows,
      close: async () => {
        try {
          await rows.return?.();
        } finally {
          slot.release();
        }
      },
    };
  }
}
