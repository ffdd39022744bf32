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
  /** CSV columns, in order; each item is read by these keys. */
  csvColumns?: string[];
}

/** RFC 4180: quote a field holding a comma, quote, CR or LF; double the quotes inside. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = Array.isArray(value) ? value.join(' ') : value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function framingFor<T>(format: StreamFormat, opts: FramingOptions<T> = {}): Framing<T> {
  switch (format) {
    case 'json':
      return {
        open: () => '[',
        item: (v, i) => (i === 0 ? '' : ',') + JSON.stringify(v),
        error: (body, count) => (count === 0 ? '' : ',') + JSON.stringify(body),
        close: () => ']',
      };
    case 'ndjson':
      return {
        open: () => '',
        item: (v) => `${JSON.stringify(v)}\n`,
        error: (body) => `${JSON.stringify(body)}\n`,
        close: () => '',
      };
    case 'sse': {
      const eventOf = (v: T) =>
        typeof opts.sseEvent === 'function' ? opts.sseEvent(v) : (opts.sseEvent ?? 'message');
      return {
        open: () => '',
        item: (v, i) => `id: ${i}\nevent: ${eventOf(v)}\ndata: ${JSON.stringify(v)}\n\n`,
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
      return {
        open: () => `${columns.map(csvField).join(',')}\r\n`,
        item: (v) => `${columns.map((c) => csvField((v as Record<string, unknown>)[c])).join(',')}\r\n`,
        error: () => undefined,
        close: () => '',
      };
    }
  }
}
