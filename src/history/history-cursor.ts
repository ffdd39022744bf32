import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../common/errors/api-error.js';
import type { SeekDirection } from './history.repository.js';
import type { HistoryFilter, SortKey } from './history.types.js';

/** Where a cursor points: the rows past `key` in `direction`. */
export interface CursorPosition {
  key: SortKey;
  direction: SeekDirection;
}

/** A short, stable name for a filter: part of cursors and of cache keys. */
export function filterFingerprint(f: HistoryFilter): string {
  const canonical = JSON.stringify([f.userId ?? null, f.style ?? null, f.from ?? null, f.to ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/**
 * Opaque cursors: base64url of the sort key, the direction and the filter's fingerprint, then an
 * HMAC of that text under a secret kept in the database. A cursor someone edited or made up
 * fails the HMAC; one from another filter names a different fingerprint. Both are a 422 on `cursor`.
 */
export class HistoryCursorCodec {
  constructor(private readonly secret: Buffer) {}

  encode(position: CursorPosition, filter: HistoryFilter): string {
    const body = Buffer.from(
      JSON.stringify({ c: position.key.createdAt, i: position.key.id, d: position.direction === 'older' ? 'o' : 'n', f: filterFingerprint(filter) }),
    ).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** @throws ApiError 422 naming `cursor` when the cursor is malformed, forged or for another filter. */
  decode(cursor: string, filter: HistoryFilter): CursorPosition {
    const [body, mac, extra] = cursor.split('.');
    if (!body || !mac || extra !== undefined || !this.verify(body, mac)) {
      throw ApiError.invalid('cursor', 'is not a cursor this service issued');
    }
    const p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { c: number; i: number; d: string; f: string };
    if (p.f !== filterFingerprint(filter)) {
      throw ApiError.invalid('cursor', 'was issued for other filters; repeat the filters it came with');
    }
    return { key: { createdAt: p.c, id: p.i }, direction: p.d === 'o' ? 'older' : 'newer' };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, 22);
  }

  private verify(body: string, mac: string): boolean {
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
