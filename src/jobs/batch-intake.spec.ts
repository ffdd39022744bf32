import { describe, expect, it } from 'vitest';
import { CUSTOM_ID, toNewItem } from './batch-intake.js';

describe(toNewItem.name, () => {
  const check = () => undefined;

  it('keeps the custom_id apart and stores the validated request, defaults filled', () => {
    const sut = toNewItem({ idx: 3, value: { custom_id: 'sku:1', content_description: 'A red bicycle' } }, check, 'req-1');
    expect(sut).toMatchObject({ idx: 3, custom_id: 'sku:1' });
    expect(sut.error).toBeUndefined();
    expect(JSON.parse(sut.request!)).toMatchObject({ content_description: 'A red bicycle', variation_count: 3 });
    expect(JSON.parse(sut.request!)).not.toHaveProperty('custom_id');
  });

  it.each([
    ['no custom_id', { content_description: 'A red bicycle' }, null, 'custom_id'],
    ['a custom_id with a space', { custom_id: 'a b', content_description: 'A red bicycle' }, null, 'custom_id'],
    ['an unknown field', { custom_id: 'ok', content_description: 'A red bicycle', colour: 'red' }, 'ok', 'colour'],
  ])('ends an item with %s `errored`, naming the field', (_name, value, customId, field) => {
    const sut = toNewItem({ idx: 0, value }, check, 'req-2');
    expect(sut.custom_id).toBe(customId);
    expect(sut.request).toBeNull();
    expect(sut.error).toMatchObject({ error: 'validation_failed', request_id: 'req-2', details: [expect.objectContaining({ field })] });
  });

  it('carries a line the reader could not parse as its error', () => {
    const sut = toNewItem({ idx: 1, error: { code: 'malformed_json', message: 'line 2 is not valid JSON' } }, check, 'req-3');
    expect(sut).toMatchObject({ custom_id: null, request: null, error: { error: 'malformed_json', message: 'line 2 is not valid JSON' } });
  });

  it('accepts 1–64 of [A-Za-z0-9_.:-] as a custom_id, and nothing else', () => {
    expect(CUSTOM_ID.test('a'.repeat(64))).toBe(true);
    expect(CUSTOM_ID.test('a'.repeat(65))).toBe(false);
    expect(CUSTOM_ID.test('')).toBe(false);
    expect(CUSTOM_ID.test('A-z_0.9:x')).toBe(true);
    expect(CUSTOM_ID.test('a/b')).toBe(false);
  });
});
