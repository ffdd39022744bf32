import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { negotiateFormat } from './negotiation.js';

const req = (accept?: string) => ({ headers: accept === undefined ? {} : { accept } }) as Request;
const EXPORT = ['ndjson', 'csv', 'json'] as const;

describe(negotiateFormat.name, () => {
  it('lets Accept pick among the formats when the request names none, the first by default', () => {
    expect(negotiateFormat(req(), [...EXPORT])).toBe('ndjson');
    expect(negotiateFormat(req('*/*'), [...EXPORT])).toBe('ndjson');
    expect(negotiateFormat(req('text/csv'), [...EXPORT])).toBe('csv');
    expect(negotiateFormat(req('application/json;q=0.5, text/csv;q=0.9'), [...EXPORT])).toBe('csv');
  });

  it('uses a format the request names when Accept allows its media type, else 406', () => {
    expect(negotiateFormat(req(), [...EXPORT], 'json')).toBe('json');
    expect(negotiateFormat(req('application/*'), [...EXPORT], 'json')).toBe('json');
    expect(negotiateFormat(req('text/csv, application/json;q=0.1'), [...EXPORT], 'json')).toBe('json');
    expect(() => negotiateFormat(req('text/csv'), [...EXPORT], 'json')).toThrow(expect.objectContaining({ status: 406 }));
    expect(() => negotiateFormat(req('image/png'), [...EXPORT])).toThrow(expect.objectContaining({ status: 406 }));
  });
});
