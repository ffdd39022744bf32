import { describe, expect, it } from 'vitest';
import { chunkJson } from './chunk-json.js';

describe(chunkJson.name, () => {
  it('is JSON.stringify byte for byte when the items are ASCII', () => {
    const items = [{ id: 1, caption: 'plain "quoted" \\ text\n', tags: ['#a', '#b'], score: 61.5, none: null }, 2, 'x', [], {}];
    expect(chunkJson(items).toString('utf8')).toBe(JSON.stringify(items));
    expect(chunkJson([]).toString('utf8')).toBe('[]');
  });

  it('writes every non-ASCII character as an escape and reads back to the same items', () => {
    const items = [{ caption: 'Golden hour ✨ café 😀 日本', lone: '\ud800 end' }, 'ümlaut'];
    const bytes = chunkJson(items);
    expect([...bytes].every((b) => b < 0x80)).toBe(true);
    expect(bytes.toString('utf8')).toContain('\\u2728');
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(items);
  });

  it('is JSON.stringify for what JSON cannot hold (null inside an array) and for toJSON', () => {
    const items = [undefined, () => 1, Symbol('s'), { toJSON: () => 'custom' }, new Date(0)];
    expect(chunkJson(items).toString('utf8')).toBe(JSON.stringify(items));
  });
});
