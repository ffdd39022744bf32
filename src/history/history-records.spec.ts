import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvField } from '../common/streaming/stream-serializers.js';
import { isoTime, RECORD_COLUMNS, recordCsv, recordJson, recordRow, type HistoryRecord } from './history-records.js';

const MAX_ISO_MS = 8.64e15;

const record = fc
  .record({
    id: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String)),
    user: fc.option(fc.string({ unit: 'binary' }), { nil: null }),
    caption: fc.string({ unit: 'binary' }),
    hashtags: fc.array(fc.string({ unit: 'binary' })),
    words: fc.array(fc.string({ unit: 'grapheme' }), { minLength: 5, maxLength: 5 }),
    quality: fc.oneof(fc.double(), fc.double().map(String)),
    engagement: fc.double(),
    created: fc.oneof(fc.integer({ min: -MAX_ISO_MS, max: MAX_ISO_MS }), fc.integer({ min: 0, max: 4e12 }).map(String)),
  })
  .map(
    (v): HistoryRecord => [
      v.id, v.user, v.caption, JSON.stringify(v.hashtags), v.words[0]!, v.words[1]!, v.words[2]!, v.words[3]!,
      v.quality, v.engagement, v.words[4]!, v.created,
    ],
  );

describe('history records', () => {
  it('writes the ISO time Date writes, for every time a Date holds', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_ISO_MS, max: MAX_ISO_MS }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5000 },
    );
    for (const ms of [0, 1, 86_399_999, 86_400_000, 253_402_300_799_999, 253_402_300_800_000, -1, 1.5, 1796039970897]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });

  it('serialises a record byte for byte as JSON.stringify and the CSV framing serialise its row', () => {
    fc.assert(
      fc.property(record, (r) => {
        const row = recordRow(r);
        expect(recordJson(r)).toBe(JSON.stringify(row));
        expect(Object.keys(row)).toEqual([...RECORD_COLUMNS]);
        expect(recordCsv(r)).toBe(RECORD_COLUMNS.map((c) => csvField(row[c])).join(','));
      }),
      { numRuns: 2000 },
    );
  });
});
