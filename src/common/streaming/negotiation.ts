import type { Request } from 'express';
import { ApiError } from '../errors/api-error.js';

export type StreamFormat = 'json' | 'ndjson' | 'sse' | 'csv';

export const MEDIA_TYPES: Record<StreamFormat, string> = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  sse: 'text/event-stream',
  csv: 'text/csv',
};

interface Ranged {
  value: string;
  q: number;
}

/** Parses an Accept-style header into values with q-weights, best first; q=0 entries are dropped. */
export function parseWeighted(header: string | undefined): Ranged[] {
  if (!header) return [];
  return header
    .split(',')
    .map((part, order) => {
      const [value = '', ...params] = part.trim().toLowerCase().split(';');
      const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const q = qParam ? Number(qParam.slice(2)) : 1;
      return { value: value.trim(), q: Number.isFinite(q) ? q : 0, order };
    })
    .filter((r) => r.value && r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
}

/**
 * Picks the stream format, by one rule for every streamed route: a format the request names
 * (`chosen`, from a query parameter) is used when `Accept` allows its media type; without one,
 * `Accept` picks among `allowed` by q-weight. No header or `*\/*` gives `allowed[0]`; an `Accept`
 * that allows nothing the route would send is a 406.
 */
export function negotiateFormat(req: Request, allowed: StreamFormat[], chosen?: StreamFormat): StreamFormat {
  const accepted = parseWeighted(req.headers.accept);
  const candidates = chosen === undefined ? allowed : [chosen];
  if (accepted.length === 0) return candidates[0]!;
  for (const { value } of accepted) {
    if (value === '*/*') return candidates[0]!;
    const exact = candidates.find((f) => MEDIA_TYPES[f] === value);
    if (exact) return exact;
    if (value.endsWith('/*')) {
      const family = candidates.find((f) => MEDIA_TYPES[f].startsWith(value.slice(0, -1)));
      if (family) return family;
    }
  }
  throw new ApiError(
    406,
    'not_acceptable',
    `This request produces ${candidates.map((f) => MEDIA_TYPES[f]).join(', ')}; Accept was ${req.headers.accept}`,
  );
}

export type ContentEncoding = 'br' | 'gzip' | 'identity';

/** Picks br or gzip when `Accept-Encoding` allows one (by q-weight, br on a tie), else identity. */
export function negotiateEncoding(req: Request): ContentEncoding {
  const accepted = parseWeighted(req.headers['accept-encoding']);
  let best: { enc: ContentEncoding; q: number } = { enc: 'identity', q: 0 };
  for (const { value, q } of accepted) {
    const enc = value === 'br' ? 'br' : value === 'gzip' || value === 'x-gzip' ? 'gzip' : value === '*' ? 'gzip' : undefined;
    if (enc && (q > best.q || (q === best.q && enc === 'br'))) best = { enc, q };
  }
  return best.enc;
}
