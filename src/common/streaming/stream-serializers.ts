import type { StreamFormat } from './negotiation.js';

/** How one format frames items: what goes before the first, around each, and after the last. */
export interface Framing<T> {
  open(): string;
  item(value: T, index: number): string;
  /** The final error item of a stream that fails after its first byte (in SSE an `event: error`); undefined where the format has none (CSV). */
  error(body: object, count: number): string | undefined;
  close(summary: { count: number; elapsedSeconds: number }): string;
}

export interface FramingOptions<T> {
  /** SSE event name per item (default `message`). */
  sseEvent?: string | ((item: T) => string);
  /** SSE `done` event payload; default `{count, processing_time}`. Return undefined to send none. */
  sseDone?: (summary: { count: number; elapsedSeconds: number }) => unknown;
  /** CSV columns, in order: the header row, and (unless `csvRow`) the keys each item is read by. */
  csvColumns?: string[];
  /**
   * An item's JSON text, for items that are not the objects sent (rows straight from a database):
   * used by the JSON, NDJSON and SSE framings in place of `JSON.stringify(item)`.
   */
  json?: (item: T) => string;
  /** An item's CSV line (no line break), in `csvColumns` order, in place of reading the columns' keys. */
  csvRow?: (item: T) => string;
}

/** RFC 4180: quote a field holding a comma, quote, CR or LF; double the quotes inside. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = Array.isArray(value) ? value.join(' ') : value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function framingFor<T>(format: StreamFormat, opts: FramingOptions<T> = {}): Framing<T> {
  const toJson: (v: T) => string = opts.json ?? ((v) => JSON.stringify(v));
  switch (format) {
    case 'json':
      return {
        open: () => '[',
        item: (v, i) => (i === 0 ? '' : ',') + toJson(v),
        error: (body, count) => (count === 0 ? '' : ',') + JSON.stringify(body),
        close: () => ']',
      };
    case 'ndjson':
      return {
        open: () => '',
        item: (v) => `${toJson(v)}\n`,
        error: (body) => `${JSON.stringify(body)}\n`,
        close: () => '',
      };
    case 'sse': {
      const eventOf = (v: T) =>
        typeof opts.sseEvent === 'function' ? opts.sseEvent(v) : (opts.sseEvent ?? 'message');
      return {
        open: () => '',
        item: (v, i) => `id: ${i}\nevent: ${eventOf(v)}\ndata: ${toJson(v)}\n\n`,
        error: (body) => `event: error\ndata: ${JSON.stringify(body)}\n\n`,
        close: (summary) => {
          const done = opts.sseDone
            ? opts.sseDone(summary)
            : { count: summary.count, processing_time: summary.elapsedSeconds };
          return done === undefined ? '' : `event: done\ndata: ${JSON.stringify(done)}\n\n`;
        },
      };
    }
    case 'csv': {
      const columns = opts.csvColumns ?? [];
      const row = opts.csvRow ?? ((v: T) => columns.map((c) => csvField((v as Record<string, unknown>)[c])).join(','));
      return {
        open: () => `${columns.map(csvField).join(',')}\r\n`,
        item: (v) => `${row(v)}\r\n`,
        error: () => undefined,
        close: () => '',
      };
    }
  }
}
