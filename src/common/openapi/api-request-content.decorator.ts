import { applyDecorators, type Type } from '@nestjs/common';
import { ApiExtension, ApiExtraModels, getSchemaPath } from '@nestjs/swagger';

/** What the document generation reads from {@link ApiRequestContent}. */
export const REQUEST_CONTENT_EXTENSION = 'x-request-content';

export interface RequestContentDoc {
  description: string;
  /** The class a JSON body is, if the route takes one. */
  json?: Type;
  /** The class each NDJSON line is, if the route takes an NDJSON upload (OpenAPI 3.2 `itemSchema`). */
  ndjsonItem?: Type;
  /** Each NDJSON line is validated on its own: a bad line is a failed item of the response, not a refused request. */
  perItem?: boolean;
}

/**
 * Documents a body read by the route itself (no `@Body()` class), one schema per media type: a
 * JSON body as its class, an NDJSON upload with the schema of one line.
 */
export function ApiRequestContent(doc: RequestContentDoc): MethodDecorator {
  const content: Record<string, object> = {};
  if (doc.json) content['application/json'] = { schema: { $ref: getSchemaPath(doc.json) } };
  if (doc.ndjsonItem) {
    content['application/x-ndjson'] = { itemSchema: { $ref: getSchemaPath(doc.ndjsonItem) }, ...(doc.perItem ? { 'x-validated-per-item': true } : {}) };
  }
  const models = [doc.json, doc.ndjsonItem].filter((t): t is Type => t !== undefined);
  return applyDecorators(ApiExtraModels(...models), ApiExtension(REQUEST_CONTENT_EXTENSION, { description: doc.description, content }));
}
