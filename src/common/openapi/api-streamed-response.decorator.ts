import { applyDecorators, type Type } from '@nestjs/common';
import { ApiExtraModels, ApiProduces, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { MEDIA_TYPES, type StreamFormat } from '../streaming/negotiation.js';
import { headerRefs, type ResponseHeaderName } from './response-headers.js';

/** The item a stream ends with when it fails after its first byte (SSE: the `error` event's data). */
export const STREAM_ERROR_SCHEMA = {
  type: 'object',
  description: 'The last item of a stream that failed after its first byte (the status was already sent)',
  required: ['error', 'message', 'timestamp'],
  properties: {
    error: { type: 'string', description: 'Machine-readable code', examples: ['internal_error'] },
    message: { type: 'string' },
    timestamp: { type: 'number', description: 'Unix time in seconds' },
  },
} as const;

/** The default SSE `done` event's data. */
export const STREAM_DONE_SCHEMA = {
  type: 'object',
  required: ['count', 'processing_time'],
  properties: {
    count: { type: 'integer', minimum: 0, description: 'Items sent' },
    processing_time: { type: 'number', description: 'Seconds from the start of the stream' },
  },
} as const;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const ERROR_REF = ref('StreamError');

export interface StreamedResponseDoc {
  /** The item class (its schema comes from the swagger plugin's metadata). */
  item: Type;
  /** Formats the route makes, the default first. */
  formats: StreamFormat[];
  description: string;
  /** The item that closes a JSON or NDJSON stream (a summary), when there is one. */
  closing?: Type;
  /** SSE events by name, with the class (or component schema name) of their data; the item's own name first. */
  sseEvents?: Record<string, Type | string>;
  /** Response headers the stream sets (by name, declared once in `components.headers`). */
  headers?: ResponseHeaderName[];
}

/** The JSON Schema of one SSE event: its name as a constant and its JSON `data`. */
function sseEvent(name: string, data: object): object {
  return {
    type: 'object',
    required: ['event', 'data'],
    properties: {
      event: { const: name },
      data: { type: 'string', contentMediaType: 'application/json', contentSchema: data },
      id: { type: 'string' },
    },
  };
}

/**
 * Documents a route that streams through `ResponseStream`, as a stream: a JSON array of items;
 * NDJSON and SSE with an `itemSchema` (OpenAPI 3.2) for one line or one event, SSE events named by
 * `event`; CSV rows as text. Every item schema includes the error item a stream ends with when it
 * fails after its first byte. The 406 for an `Accept` the route cannot make is added too.
 */
export function ApiStreamedResponse(doc: StreamedResponseDoc): MethodDecorator & ClassDecorator {
  const classes = [doc.item, ...(doc.closing ? [doc.closing] : [])];
  const items = { oneOf: [...classes.map((c) => ({ $ref: getSchemaPath(c) })), ERROR_REF] };
  const events = Object.entries(doc.sseEvents ?? { message: doc.item });
  const sse = {
    oneOf: [
      ...events.map(([name, data]) => sseEvent(name, typeof data === 'string' ? ref(data) : { $ref: getSchemaPath(data) })),
      sseEvent('error', ERROR_REF),
    ],
  };
  const contentOf: Record<StreamFormat, object> = {
    json: { schema: { type: 'array', items, description: 'A JSON array, streamed element by element' } },
    ndjson: { itemSchema: items },
    sse: { itemSchema: sse },
    csv: { schema: { type: 'string', description: 'RFC 4180 CSV with a header row; a failure after the first byte cuts the connection (no error row)' } },
  };
  const content = Object.fromEntries(doc.formats.map((f) => [MEDIA_TYPES[f], contentOf[f]]));
  const extra = events.map(([, data]) => data).filter((d): d is Type => typeof d !== 'string');
  return applyDecorators(
    ApiExtraModels(...classes, ...extra),
    ApiProduces(...doc.formats.map((f) => MEDIA_TYPES[f])),
    ApiResponse({
      status: 406,
      description: '`not_acceptable`: `Accept` allows no format this request would send',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
    }),
    ApiResponse({
      status: 200,
      description:
        `${doc.description} A failure after the first byte cannot change the status: the stream then ends with ` +
        'an error item `{error, message, timestamp}` (SSE: `event: error`).',
      headers: headerRefs('Content-Encoding', ...(doc.headers ?? [])),
      content: content,
    }),
  );
}
