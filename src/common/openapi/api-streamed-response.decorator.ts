import { applyDecorators, type Type } from '@nestjs/common';
import { ApiExtraModels, ApiProduces, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { MEDIA_TYPES, type StreamFormat } from '../streaming/negotiation.js';

export interface StreamedResponseDoc {
  /** The item class (its schema comes from the swagger plugin's metadata). */
  item: Type;
  /** Formats the route negotiates from `Accept`, the default first. */
  formats: StreamFormat[];
  description: string;
  /** The item that closes the stream (a summary), when there is one. */
  closing?: Type;
  /** Other classes named in the description (SSE-only events). */
  extraModels?: Type[];
  /** How SSE events are named, for the reader. */
  sse?: string;
  /** The format follows `Accept` (so an `Accept` it cannot produce is a 406); false when a query parameter picks it. */
  negotiated?: boolean;
}

/**
 * Documents a route that streams through `ResponseStream`: 200 in each negotiated format (a JSON
 * array of items, one item per NDJSON line, SSE events, CSV rows), the final error item a stream
 * ends with when it fails after its first byte, and 406 for an `Accept` it cannot produce.
 */
export function ApiStreamedResponse(doc: StreamedResponseDoc): MethodDecorator & ClassDecorator {
  const ref = doc.closing
    ? { oneOf: [{ $ref: getSchemaPath(doc.item) }, { $ref: getSchemaPath(doc.closing) }] }
    : { $ref: getSchemaPath(doc.item) };
  const schemaFor: Record<StreamFormat, object> = {
    json: { type: 'array', items: ref, description: 'A JSON array, streamed element by element' },
    ndjson: { ...ref, description: 'One item per line' },
    sse: { type: 'string', description: doc.sse ?? 'Server-sent events, one per item' },
    csv: { type: 'string', description: 'RFC 4180 CSV with a header row' },
  };
  const content = Object.fromEntries(doc.formats.map((f) => [MEDIA_TYPES[f], { schema: schemaFor[f] }]));
  return applyDecorators(
    ApiExtraModels(doc.item, ...(doc.closing ? [doc.closing] : []), ...(doc.extraModels ?? [])),
    ApiProduces(...doc.formats.map((f) => MEDIA_TYPES[f])),
    ...(doc.negotiated === false
      ? []
      : [
          ApiResponse({
            status: 406,
            description: '`not_acceptable`: `Accept` names no format this route makes',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
          }),
        ]),
    ApiResponse({
      status: 200,
      description:
        `${doc.description} A failure after the first byte cannot change the status: the stream then ends with ` +
        'an error item `{error, message, timestamp}` (SSE: `event: error`).',
      content,
    }),
  );
}
