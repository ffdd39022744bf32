import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ApiError } from '../common/errors/api-error.js';
import { AppConfig } from '../config/app-config.js';
import { LazyLoaderService } from '../lazy-loader/lazy-loader.service.js';
import type { PageInfo } from '../lazy-loader/lazy-loader.types.js';
import { ExportSlots } from './export-slots.js';
import { GroupCommitter } from './group-commit.js';
import { HistoryCursorCodec } from './history-cursor.js';
import { HistoryReader } from './history-reader.js';
import { HistoryRepository, keyOf, type GuardedRows } from './history.repository.js';
import { DataVersionCache } from './history-versions.js';
import type { HistoryRecord } from './history-records.js';
import type { HistoryFilter, HistoryRow, NewHistoryRow } from './history.types.js';

/** Rows per chunk of history unless LAZY_CHUNK_SIZE says otherwise (the unit the page path caches). */
export const HISTORY_CHUNK_SIZE = 1000;
/** Rows per group-commit transaction at most (whole requests; a larger request goes alone). */
export const HISTORY_GROUP_MAX_ROWS = 1000;
/** What a refused export is told to wait: exports run for seconds to minutes, so retrying sooner only adds load. */
export const EXPORT_RETRY_AFTER_SECONDS = 5;

export interface HistoryPageRequest {
  filter: HistoryFilter;
  page: number;
  pageSize: number;
  cursor?: string;
  includeTotal: boolean;
}

/** A running export: its rows in batches, and `close()` (idempotent) that closes the cursor and frees the export's slot. */
export interface HistoryExport {
  rows: AsyncIterableIterator<HistoryRecord[]>;
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
   * The day buckets of each scope, read from the database (each trusted for
   * `HISTORY_FRESHNESS_MS`): every cache key of history is derived from them, so nothing cached
   * before a write that can change a view is served after it, on any instance sharing the
   * database, and a key stays valid across restarts.
   */
  private readonly versions: DataVersionCache;
  private readonly reader: HistoryReader;
  /** Concurrent requests' rows share one transaction. */
  private readonly writes: GroupCommitter<NewHistoryRow>;
  private readonly maxOffset: number;
  private codec!: HistoryCursorCodec;
  /** Running exports, in all and per client. */
  readonly exportSlots: ExportSlots;

  constructor(
    private readonly repo: HistoryRepository,
    @Inject(CACHE_MANAGER) cache: Cache,
    lazyLoader: LazyLoaderService,
    config: AppConfig,
  ) {
    this.maxOffset = config.history.maxOffset;
    this.exportSlots = new ExportSlots(config.exports.maxConcurrent, config.exports.maxPerClient);
    this.versions = new DataVersionCache((scope) => repo.readBuckets(scope), config.history.freshnessMs);
    this.reader = new HistoryReader(repo, lazyLoader, this.versions, cache, config.lazyLoader.chunkSize ?? HISTORY_CHUNK_SIZE);
    this.writes = new GroupCommitter(async (rows) => this.versions.learn(await repo.insertMany(rows)), HISTORY_GROUP_MAX_ROWS);
  }

  /**
   * Whether page `page` of `pageSize` rows may be read by number: its last row must lie within the
   * configured depth (`page × pageSize ≤ HISTORY_MAX_OFFSET`). Deeper rows are read by cursor.
   */
  pageWithinReach(page: number, pageSize: number): boolean {
    return page * pageSize <= this.maxOffset;
  }

  async onModuleInit(): Promise<void> {
    this.codec = new HistoryCursorCodec(await this.repo.cursorSecret());
  }

  /**
   * Stores generated variations and raises the day buckets they fall into, in one transaction
   * shared with the other requests recording in the same turn of the event loop (group commit).
   * Resolves once the rows are committed; rejects only when these rows themselves fail. This
   * instance serves the new buckets at once; others within `HISTORY_FRESHNESS_MS`.
   */
  record(rows: NewHistoryRow[]): Promise<void> {
    return this.writes.submit(rows);
  }

  /**
   * {@link record} for rows tied to a write that must happen once: in one transaction, each
   * entry's guard runs and only a guard that took stores its rows (see
   * `HistoryRepository.insertGuarded`). Not grouped with other requests' rows: the caller already
   * writes many entries at once. Returns which guards took.
   */
  async recordGuarded(entries: ReadonlyArray<GuardedRows>): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const { applied, buckets } = await this.repo.insertGuarded(entries);
    this.versions.learn(buckets);
    return applied;
  }

  /** Settles when no recorded rows wait for their transaction (tests, shutdown). */
  settled(): Promise<void> {
    return this.writes.settled();
  }

  /** Shutdown: write what is queued before the repository closes the database. */
  async onModuleDestroy(): Promise<void> {
    await this.settled();
  }

  /** The number of matching rows, from the day buckets (and cached per-day counts where a bucket is wider than the filter). */
  async count(filter: HistoryFilter): Promise<number> {
    return (await this.reader.layout(filter)).total;
  }

  /**
   * One page, by number or by cursor, both read from the lazy loader's chunks (history-reader.ts).
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
    const result = position
      ? await this.reader.afterCursor(req.filter, position, req.pageSize)
      : await this.reader.page(req.filter, req.page, req.pageSize);
    const total = req.includeTotal ? result.total : null;
    const { items, hasNext, hasPrevious } = result;
    return {
      items,
      pagination: {
        page: position ? null : req.page,
        page_size: req.pageSize,
        total_items: total,
        total_pages: total === null ? null : Math.ceil(total / req.pageSize),
        has_next: hasNext,
        has_previous: hasPrevious,
        next_cursor: hasNext && items.length > 0 ? this.codec.encode({ key: keyOf(items.at(-1)!), direction: 'older' }, req.filter) : null,
        prev_cursor: hasPrevious && items.length > 0 ? this.codec.encode({ key: keyOf(items[0]!), direction: 'newer' }, req.filter) : null,
      },
      cacheHit: result.cacheHit,
      processingTime: Number(process.hrtime.bigint() - started) / 1e9,
    };
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
    let rows: AsyncIterableIterator<HistoryRecord[]>;
    try {
      rows = this.repo.streamRecords(filter);
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
