import type { HistoryChunkSource } from './history-chunks.js';
import type { HistoryRow } from './history.types.js';

/** The guide's PageInfo (docs/architecture.md). */
export interface PageInfo {
  page: number;
  page_size: number;
  total_items: number | null;
  total_pages: number | null;
  has_next: boolean;
  has_previous: boolean;
}

export interface LoadedPage {
  items: HistoryRow[];
  pageInfo: PageInfo;
  cacheHit: boolean;
}

export type PageLoader = (
  source: HistoryChunkSource,
  page: number,
  pageSize: number,
  opts: { totalItems: number | null; signal?: AbortSignal },
) => Promise<LoadedPage>;

/**
 * Reads a page straight from the chunk source, with no cache: the stand-in for
 * `LazyLoaderService.loadPage` (same signature) until the lazy loader lands; wiring it is one line
 * in HistoryService. Loads the chunks that hold the page plus one row past it, to know `has_next`
 * without a total.
 */
export const loadPageFromSource: PageLoader = async (source, page, pageSize, { totalItems, signal }) => {
  const cs = source.chunkSize;
  const offset = (page - 1) * pageSize;
  const rows: HistoryRow[] = [];
  const first = Math.floor(offset / cs);
  const last = Math.floor((offset + pageSize) / cs);
  for (let index = first; index <= last; index++) {
    const chunk = await source.loadChunk(index, { chunkSize: cs, signal });
    rows.push(...chunk);
    if (chunk.length < cs) break;
  }
  const start = offset - first * cs;
  const items = rows.slice(start, start + pageSize);
  const totalPages = totalItems === null ? null : Math.ceil(totalItems / pageSize);
  return {
    items,
    cacheHit: false,
    pageInfo: {
      page,
      page_size: pageSize,
      total_items: totalItems,
      total_pages: totalPages,
      has_next: totalPages === null ? rows.length > start + pageSize : page < totalPages,
      has_previous: page > 1,
    },
  };
};
