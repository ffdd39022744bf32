import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../common/errors/api-error.js';
import { assertUniqueRequestIds, fromNdjson, toBatchInput } from './batch-requests.js';
import type { NdjsonLine } from './ndjson-body.reader.js';

const valid = { content_description: '  A walk on the beach at sunset  ', request_id: 'a-1' };

describe(toBatchInput.name, () => {
  it('validates one request on its own, trimmed, with defaults filled in', () => {
    const sut = toBatchInput({ ...valid }, 3);
    expect(sut).toMatchObject({ index: 3, request_id: 'a-1', request: { content_description: 'A walk on the beach at sunset', style: 'casual' } });
  });

  it('makes up a request_id when absent', () => {
    const sut = toBatchInput({ content_description: 'A walk on the beach' }, 0);
    expect('request' in sut && sut.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('turns a bad request into a failed input naming the fields, keeping a given id', () => {
    const sut = toBatchInput({ ...valid, hashtag_count: 31, colour: 'red' }, 1);
    expect(sut).toMatchObject({ index: 1, request_id: 'a-1', error: { code: 'validation_failed' } });
    expect('error' in sut && sut.error.details?.map((d) => d.field).sort()).toEqual(['colour', 'hashtag_count']);
  });

  it('fails a request that passes the DTO but not the server rules, with the error body', () => {
    const check = (r: { hashtag_count: number }) => {
      if (r.hashtag_count > 5) throw ApiError.invalid('hashtag_count', 'must not be greater than 5 (HASHTAG_LIMIT)');
    };
    expect(toBatchInput({ ...valid, hashtag_count: 5 }, 0, check)).toMatchObject({ request_id: 'a-1', request: { hashtag_count: 5 } });
    expect(toBatchInput({ ...valid, hashtag_count: 6 }, 2, check)).toEqual({
      index: 2,
      request_id: 'a-1',
      error: {
        code: 'validation_failed',
        message: 'hashtag_count must not be greater than 5 (HASHTAG_LIMIT)',
        details: [{ field: 'hashtag_count', message: 'must not be greater than 5 (HASHTAG_LIMIT)' }],
      },
    });
  });

  it('fails a value that is not an object, and a reserved key, without throwing', () => {
    expect(toBatchInput(42, 0)).toMatchObject({ request_id: null, error: { code: 'validation_failed' } });
    expect(toBatchInput(JSON.parse('{"content_description":"hello there","__proto__":{"x":1}}'), 0)).toMatchObject({ error: { code: 'validation_failed' } });
  });
});

describe(assertUniqueRequestIds.name, () => {
  it('names both positions of a repeated id', () => {
    const sut = () => assertUniqueRequestIds([valid, { request_id: 'b' }, { request_id: 'a-1' }]);
    expect(sut).toThrow(ApiError);
    expect(sut).toThrow('requests.2.request_id duplicates requests.0.request_id ("a-1")');
    expect(() => assertUniqueRequestIds([valid, { content_description: 'x' }, { content_description: 'y' }])).not.toThrow();
  });
});

describe(fromNdjson.name, () => {
  it('fails a line that repeats an earlier line’s request_id, and passes line errors through', async () => {
    async function* lines(): AsyncGenerator<NdjsonLine> {
      yield { index: 0, value: { ...valid } };
      yield { index: 1, error: { code: 'malformed_json', message: 'line 2 is not valid JSON' } };
      yield { index: 2, value: { ...valid } };
    }
    const sut = [];
    for await (const input of fromNdjson(lines())) sut.push(input);
    expect(sut[0]).toMatchObject({ request_id: 'a-1', request: {} });
    expect(sut[1]).toMatchObject({ request_id: null, error: { code: 'malformed_json' } });
    expect(sut[2]).toMatchObject({ request_id: 'a-1', error: { message: 'request_id duplicates the request_id of line 1' } });
  });
});
