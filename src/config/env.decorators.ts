import { Transform } from 'class-transformer';

/**
 * Environment variables are strings; `Boolean("false")` is true. This reads the usual spellings
 * and leaves anything else as the raw string so that `@IsBoolean()` rejects it by name.
 */
export function EnvBoolean(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => {
    if (typeof value !== 'string') return value;
    const v = value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    return value;
  });
}

/** Parses a number, leaving a non-numeric string in place for `@IsInt()`/`@IsNumber()` to reject. */
export function EnvNumber(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => {
    if (typeof value !== 'string' || value.trim() === '') return value;
    const n = Number(value);
    return Number.isFinite(n) ? n : value;
  });
}
