import fc from 'fast-check';
import { gzipSync } from 'node:zlib';

/** A hostile request against one documented operation. */
export interface FuzzCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What was generated, for the failure report. */
  label: string;
}

export interface Operation {
  method: string;
  /** OpenAPI path template (`/items/{id}`). */
  path: string;
  queryNames: string[];
  pathNames: string[];
  bodyFields: string[] | null;
}

const HUGE = 'A'.repeat(256 * 1024);
/** 64 MB of spaces, about 64 KB gzipped. */
const GZIP_BOMB = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));

/** Strings: printable, binary (lone surrogates, NUL), reserved names, very long. */
const nastyString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '', ' ', '..', '../..', '%00', '-1', '0', '1e400', 'NaN', 'true', 'null', '[]', '{}', '<script>alert(1)</script>', 'javascript:x', "' OR 1=1 --"),
  },
  { weight: 1, arbitrary: fc.constant(HUGE.slice(0, 10_000)) },
);

/** Any JSON, wrong types included. */
const anyJson = fc.jsonValue({ maxDepth: 4 });

/** A query value: a string, a repeated key (array), raw bad percent-encoding. */
const queryValue = fc.oneof(
  nastyString.map((v) => [encodeURIComponent(v)]),
  fc.array(nastyString, { minLength: 2, maxLength: 3 }).map((vs) => vs.map(encodeURIComponent)),
  fc.constantFrom(['%E0%A4%A'], ['%ZZ'], ['%C0%AF'], ['%FF%FE'], ['1%00']),
);

function queryArb(names: string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 4, arbitrary: names.length ? fc.constantFrom(...names) : fc.constant('x') },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor[prototype][x]', '__proto__[polluted]', 'a[b][c]', 'extra') },
  );
  return fc.array(fc.tuple(key, queryValue), { maxLength: 5 }).map((pairs) => pairs.flatMap(([k, vs]) => vs.map((v) => `${encodeURIComponent(k)}=${v}`)).join('&'));
}

/** A JSON object with the operation's own fields given random values, plus stray keys. */
function schemaShapedBody(fields: string[]): fc.Arbitrary<string> {
  const field = fields.length ? fc.constantFrom(...fields) : fc.string({ maxLength: 8 });
  return fc
    .tuple(
      fc.dictionary(field, fc.oneof(anyJson, nastyString), { maxKeys: 8 }),
      fc.option(fc.constantFrom('__proto__', 'constructor', 'prototype'), { nil: undefined }),
    )
    .map(([obj, reserved]) => {
      const text = JSON.stringify(obj);
      if (!reserved) return text;
      const inject = `"${reserved}":{"polluted":true,"toString":1}`;
      return text === '{}' ? `{${inject}}` : `{${inject},${text.slice(1)}`;
    });
}

/** Raw bodies: the kinds of bytes a careless or hostile client sends. */
function bodyArb(fields: string[]): fc.Arbitrary<{ bytes: Buffer; kind: string; encoding?: string }> {
  const text = (kind: string) => (s: string) => ({ bytes: Buffer.from(s, 'utf8'), kind });
  return fc.oneof(
    { weight: 6, arbitrary: schemaShapedBody(fields).map(text('shaped')) },
    { weight: 3, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? 'null').map(text('json')) },
    { weight: 1, arbitrary: fc.integer({ min: 33, max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)).map(text('deep-array')) },
    { weight: 1, arbitrary: fc.integer({ min: 33, max: 2000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)).map(text('deep-object')) },
    { weight: 1, arbitrary: fc.constant(`{"content_description":"${HUGE}${HUGE}${HUGE}${HUGE}${HUGE}"}`).map(text('huge')) },
    { weight: 1, arbitrary: schemaShapedBody(fields).map((s) => s.slice(0, Math.max(1, s.length - 2))).map(text('truncated')) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((junk) => ({
        bytes: Buffer.concat([Buffer.from('{"content_description":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from(junk), Buffer.from('"}')]),
        kind: 'bad-utf8',
      })),
    },
    { weight: 1, arbitrary: schemaShapedBody(fields).map((s) => ({ bytes: gzipSync(s), kind: 'gzip', encoding: 'gzip' })) },
    { weight: 1, arbitrary: fc.constant({ bytes: GZIP_BOMB, kind: 'gzip-bomb', encoding: 'gzip' }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ bytes: Buffer.from(b), kind: 'bad-gzip', encoding: 'gzip' })) },
  );
}

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/x-ndjson', '', 'application/json; charset=utf-16', '*/*') },
);

const accept = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom('application/json', 'application/x-ndjson', 'text/event-stream', 'text/csv', 'image/png', '*/*;q=0', 'application/*', 'text/html, */*;q=0.1') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }) },
);

/** Cases for one operation: mostly its own method, sometimes another. */
export function fuzzCases(op: Operation): fc.Arbitrary<FuzzCase> {
  const segment = fc.oneof(nastyString.map(encodeURIComponent), fc.constantFrom('%E0%A4%A', '%2e%2e', '..', '%00'));
  return fc
    .record({
      method: fc.oneof({ weight: 9, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'POST', 'GET', 'OPTIONS') }),
      params: fc.array(segment, { minLength: op.pathNames.length, maxLength: op.pathNames.length }),
      query: queryArb(op.queryNames),
      body: op.bodyFields !== null ? fc.option(bodyArb(op.bodyFields), { freq: 10, nil: undefined }) : fc.option(bodyArb([]), { freq: 1, nil: undefined }),
      contentType,
      accept,
      requestId: fc.option(fc.string({ unit: 'grapheme-ascii', maxLength: 200 }), { nil: undefined }),
    })
    .map(({ method, params, query, body, contentType, accept, requestId }) => {
      let i = 0;
      const path = op.path.replace(/\{[^}]+\}/g, () => params[i++] ?? 'x') + (query ? `?${query}` : '');
      const headers: Record<string, string> = {};
      if (body) {
        if (contentType) headers['content-type'] = contentType;
        if (body.encoding) headers['content-encoding'] = body.encoding;
      }
      if (accept !== undefined) headers.accept = accept;
      if (requestId !== undefined) headers['x-request-id'] = requestId.replace(/[\r\n]/g, '');
      return {
        method,
        path,
        headers,
        body: body?.bytes,
        label: `${method} ${path.slice(0, 200)} [body: ${body?.kind ?? 'none'}, ${headers['content-type'] ?? '-'}${body?.encoding ? `, ${body.encoding}` : ''}, accept: ${accept ?? '-'}]`,
      };
    });
}
