import { describe, expect, it } from 'vitest';
import { parseDateOrDateTime } from './rfc3339.js';

describe(parseDateOrDateTime.name, () => {
  it('reads RFC 3339 dates and date-times with a zone', () => {
    expect(parseDateOrDateTime('2026-11-24')).toBe(Date.UTC(2026, 10, 24));
    expect(parseDateOrDateTime('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseDateOrDateTime('2026-11-24T10:00:00Z')).toBe(Date.UTC(2026, 10, 24, 10));
    expect(parseDateOrDateTime('2026-11-24t10:00:00.5+01:00')).toBe(Date.UTC(2026, 10, 24, 9, 0, 0, 500));
  });

  it('refuses what the JSON Schema date and date-time formats refuse', () => {
    for (const bad of ['2026-02-29', '2026-13-01', '2026-11-24T10:00:00', '2026-11-24T24:00:00Z', '2026-W05', '2026-11', 'now']) {
      expect(parseDateOrDateTime(bad), bad).toBeUndefined();
    }
  });
});
