import { Ajv2020 } from 'ajv/dist/2020.js';
import { createCaptionsClient, type CaptionsClient } from '@instagram-captions/client';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

/**
 * The client package (clients/typescript), generated from the committed `openapi.json` (`npm run
 * openapi`): a renamed field or route breaks the type-check of the specs that use it.
 */
export function apiClient(port: number, headers: Record<string, string> = {}): CaptionsClient {
  return createCaptionsClient({ baseUrl: `http://127.0.0.1:${port}`, headers });
}

type Spec = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown; itemSchema?: unknown }> }> }>> };
const spec = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as Spec;
// OpenAPI 3.1 schemas are JSON Schema 2020-12; the document itself is the root their $refs point into.
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(spec, 'openapi.json');

/**
 * Checks a live response body (or one NDJSON line) against the schema the committed spec gives for
 * that route, status and media type, so the server drifting from its contract breaks a test at run time too.
 */
export function expectMatchesSpec(method: string, path: string, status: number, body: unknown, mediaType = 'application/json'): void {
  const response = spec.paths[path]?.[method.toLowerCase()]?.responses[String(status)];
  expect(response, `${method} ${path} ${status} is not in openapi.json`).toBeDefined();
  // A stream's media type has an `itemSchema` (one NDJSON line), a whole body a `schema`.
  const media = response!.content?.[mediaType];
  const key = media?.schema !== undefined ? 'schema' : media?.itemSchema !== undefined ? 'itemSchema' : undefined;
  expect(key, `${method} ${path} ${status} has no ${mediaType} schema`).toBeDefined();
  const validate = ajv.compile({ $ref: `openapi.json#/paths/${pointer(path)}/${method.toLowerCase()}/responses/${status}/content/${pointer(mediaType)}/${key}` });
  const ok = validate(body);
  expect(ok ? [] : validate.errors, `${method} ${path} ${status} does not match openapi.json`).toEqual([]);
}

const pointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
