import { registerDecorator } from 'class-validator';
import { registerSchemaRule } from '../openapi/schema-rules.js';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)(z|([+-])(\d{2})(?::?(\d{2}))?)$/i;
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DAY_MS = 86_400_000;

const leap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);

/** Epoch ms of an RFC 3339 full-date (midnight UTC), or undefined. */
function dateOf(text: string): number | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [+m[1]!, +m[2]!, +m[3]!];
  if (mo < 1 || mo > 12 || d < 1 || d > (mo === 2 && leap(y) ? 29 : DAYS[mo]!)) return undefined;
  return Date.UTC(y, mo - 1, d);
}

/**
 * Epoch ms of an RFC 3339 date (`2026-11-24`, midnight UTC) or date-time with a zone
 * (`2026-11-24T10:00:00Z`, `…+01:00`), or undefined. Exactly the strings JSON Schema's `date` and
 * `date-time` formats take (a leap second counts as the second before it), so the document's
 * formats and the server agree.
 */
export function parseDateOrDateTime(text: string): number | undefined {
  const day = dateOf(text);
  if (day !== undefined) return day;
  const parts = text.split(/t|\s/i);
  if (parts.length !== 2) return undefined;
  const date = dateOf(parts[0]!);
  const m = TIME.exec(parts[1]!);
  if (date === undefined || !m) return undefined;
  const [hr, min, sec] = [+m[1]!, +m[2]!, +m[3]!];
  const sign = m[5] === '-' ? -1 : 1;
  const [tzH, tzM] = [+(m[6] ?? 0), +(m[7] ?? 0)];
  if (tzH > 23 || tzM > 59) return undefined;
  if (!(hr <= 23 && min <= 59 && sec < 60)) {
    const utcMin = min - tzM * sign;
    const utcHr = hr - tzH * sign - (utcMin < 0 ? 1 : 0);
    if (!((utcHr === 23 || utcHr === -1) && (utcMin === 59 || utcMin === -1) && sec < 61)) return undefined;
  }
  return date + (hr * 3600 + min * 60 + Math.min(sec, 59.999)) * 1000 - sign * (tzH * 60 + tzM) * 60_000;
}

/** True for a date without a time (it then stands for its whole UTC day). */
export const isDateOnly = (text: string) => DATE.test(text);

/** The last millisecond of the UTC day a date-only value names. */
export const endOfDay = (startMs: number) => startMs + DAY_MS - 1;

/** Validates an RFC 3339 date or date-time ({@link parseDateOrDateTime}). */
export function IsDateOrDateTime(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isDateOrDateTime',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must be an RFC 3339 date (2026-11-24) or date-time with a zone (2026-11-24T10:00:00Z)' },
      validator: { validate: (v: unknown) => typeof v === 'string' && parseDateOrDateTime(v) !== undefined },
    });
}

registerSchemaRule('isDateOrDateTime', () => ({ schema: { anyOf: [{ format: 'date' }, { format: 'date-time' }] } }));
