/**
 * Response headers, each declared once (`components.headers`) and referenced by name wherever a
 * response carries it. `X-Request-Id` goes on every response by the document generation.
 */
export const RESPONSE_HEADERS = {
  'X-Request-Id': { description: 'The request id: a valid incoming `X-Request-Id` is reused, else a UUID is made', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } },
  Link: { description: 'RFC 8288 links to the `first`, `prev`, `next` and (when the total is known) `last` pages, relative URLs', schema: { type: 'string' } },
  'Content-Disposition': { description: '`attachment; filename="caption-history.<format>"`', schema: { type: 'string' } },
  'Content-Encoding': { description: '`gzip` or `br`, only when the body really is compressed (absent otherwise)', schema: { type: 'string', enum: ['gzip', 'br'] } },
  'X-Streaming': { description: 'Always `true`: the body is streamed as it is made', schema: { type: 'string', enum: ['true'] } },
  'X-Chunk-Size': { description: 'Items per write (`chunk_size`)', schema: { type: 'string', pattern: '^[0-9]+$' } },
  'X-Batch-Id': { description: 'The batch id, given or made up (absent on a replay)', schema: { type: 'string' } },
  'X-Batch-Size': { description: 'Requests in a JSON batch (absent for an NDJSON upload, whose size is not known up front)', schema: { type: 'string', pattern: '^[0-9]+$' } },
  'Idempotent-Replayed': { description: '`true` when the response replays a finished batch with the same `Idempotency-Key`', schema: { type: 'string', enum: ['true'] } },
} as const;

export type ResponseHeaderName = keyof typeof RESPONSE_HEADERS;

/** `{name: {$ref}}` for a response's `headers`. */
export function headerRefs(...names: ResponseHeaderName[]): Record<string, { $ref: string }> {
  return Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }]));
}

/** The request header `Idempotency-Key`, declared once (`components.parameters.IdempotencyKey`). */
export const IDEMPOTENCY_KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Per API key: replays a finished request with the same body; 422 with another body; 409 while it runs',
  schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
} as const;
