import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { API_PREFIX, LIVENESS_PATH, METRICS_PATH, PUBLIC_PATHS } from './app.routes.js';
import pluginMetadata from '../metadata.js';
import { API_VERSION } from '../common/domain/api-version.js';
import { REQUEST_CONTENT_EXTENSION } from '../common/openapi/api-request-content.decorator.js';
import { STREAM_DONE_SCHEMA, STREAM_ERROR_SCHEMA } from '../common/openapi/api-streamed-response.decorator.js';
import { IDEMPOTENCY_KEY_PARAMETER, RESPONSE_HEADERS } from '../common/openapi/response-headers.js';
import type { AppConfig } from '../config/app-config.js';
import { operationIdOf, summaryOf } from './openapi-names.js';
import { RULES_EXTENSION, stateValidation } from './openapi-rules.js';
import type { ListedRule } from '../common/openapi/schema-rules.js';
import { routeHandlers } from './openapi-routes.js';

// DTO properties, validation rules, TSDoc descriptions and return types, generated from the
// TypeScript program by `npm run openapi` (the swagger CLI plugin's readonly visitor). Loaded once,
// at import, so SWC builds (tests) and tsc builds describe the same API.
await SwaggerModule.loadPluginMetadata(pluginMetadata);

const JSON_ERROR = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } };

/** The error body, shared by every error response. */
const ERROR_BODY_SCHEMA = {
  type: 'object',
  required: ['error', 'message', 'request_id', 'timestamp'],
  properties: {
    error: { type: 'string', description: 'Machine-readable code', examples: ['validation_failed'] },
    message: { type: 'string', description: 'What went wrong, for a human; never a stack, SQL or path' },
    details: {
      type: 'array',
      description: 'One entry per bad field (422) or failed check (503)',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
    request_id: { type: 'string', description: 'The X-Request-Id of the request' },
    timestamp: { type: 'number', description: 'Unix time in seconds' },
  },
} as const;

const ERRORS: Record<string, string> = {
  '400': '`malformed_json`: the body is not valid JSON',
  '401': '`unauthorized`: API keys are configured and the request has none or a wrong one',
  '404': '`not_found`: no such resource',
  '406': '`not_acceptable`: the route cannot produce the `Accept` asked for',
  '413': '`payload_too_large`: the body is over the limit, counted after decompression',
  '415': '`unsupported_media_type`: the body is not of a type the route takes',
  '422': '`validation_failed`: a well-formed body or query breaks a rule; `details` names each field',
  '429': '`rate_limited`: over the rate limit; retry after `Retry-After` seconds',
  '500': '`internal_error`: a bug; the message leaks nothing',
  '503': '`not_ready`: the server is shutting down',
};

type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const HEADER_REF = (name: string) => ({ $ref: `#/components/headers/${name}` });

/**
 * Adds the error responses every route can give, from what the operation takes: each route can
 * answer 500 and (but liveness) 503 when shutting down; protected ones 401 (when API keys are
 * configured) and 429 (`/metrics` 401 for its token); a body brings 400, 413, 415 and 422; query or path
 * parameters 422; path parameters 404. Routes document their own others (406 on negotiated
 * streams, 409 on idempotency conflicts); what a controller documents is kept.
 */
function addErrorResponses(path: string, op: Operation, isPublic: boolean): void {
  // Liveness is served even while the server closes.
  const statuses = new Set(path === LIVENESS_PATH ? ['500'] : ['500', '503']);
  if (!isPublic) ['401', '429'].forEach((s) => statuses.add(s));
  if (op.requestBody) ['400', '413', '415', '422'].forEach((s) => statuses.add(s));
  const params = (op.parameters ?? []) as Array<{ in?: string }>;
  if (params.some((p) => p.in === 'query' || p.in === 'path')) statuses.add('422');
  if (params.some((p) => p.in === 'path') || path.includes('{')) statuses.add('404');
  op.responses ??= {};
  for (const status of [...statuses].sort()) {
    op.responses[status] ??= { description: ERRORS[status]!, content: JSON_ERROR };
  }
  if (path === METRICS_PATH) {
    // Its own credentials: the metrics token or an API key, when either is configured.
    op.responses['401'] ??= {
      description: '`unauthorized`: `METRICS_TOKEN` or `API_KEYS` is configured and the request bears neither that token nor a valid key',
      content: JSON_ERROR,
    };
  }
}

/** `X-Request-Id` on every response, `Retry-After` on every 429 and 503: declared once, referenced. */
function addResponseHeaders(op: Operation): void {
  for (const [status, response] of Object.entries(op.responses) as Array<[string, { headers?: Record<string, unknown> }]>) {
    response.headers = { ...response.headers, 'X-Request-Id': HEADER_REF('X-Request-Id') };
    if (status === '429' || status === '503') response.headers['Retry-After'] ??= HEADER_REF('Retry-After');
  }
}

/** Every `Idempotency-Key` header parameter, whatever its case, as one reference to its declaration. */
function shareIdempotencyKey(op: Operation): void {
  const params = (op.parameters ?? []) as Array<{ in?: string; name?: string }>;
  const isKey = (p: { in?: string; name?: string }) => p.in === 'header' && p.name?.toLowerCase() === 'idempotency-key';
  if (!params.some(isKey)) return;
  op.parameters = [...params.filter((p) => !isKey(p)), { $ref: '#/components/parameters/IdempotencyKey' }] as never;
  const ext = op as Operation & { [RULES_EXTENSION]?: ListedRule[] };
  ext[RULES_EXTENSION] = [...(ext[RULES_EXTENSION] ?? []), { fields: ['Idempotency-Key'], rule: 'a key already used with another body is a 422 (409 while its first request runs)' }];
}

/** A body the route reads itself ({@link REQUEST_CONTENT_EXTENSION}) becomes its `requestBody`. */
function useRequestContent(op: Operation): void {
  const ext = op as Operation & Record<string, { description: string; content: Record<string, unknown> } | undefined>;
  const doc = ext[REQUEST_CONTENT_EXTENSION];
  if (!doc) return;
  delete ext[REQUEST_CONTENT_EXTENSION];
  op.requestBody = { required: true, description: doc.description, content: doc.content as never };
}

/** Who may call: anonymous access is an alternative when no API keys are configured. */
function securityOf(isPublic: boolean, path: string, keyed: boolean, config: AppConfig): Operation['security'] {
  if (path === METRICS_PATH) return config.monitoring.metricsToken || keyed ? [{ bearer: [] }, { api_key: [] }] : [{}, { bearer: [] }];
  if (isPublic) return [];
  return keyed ? [{ bearer: [] }, { api_key: [] }] : [{}, { bearer: [] }, { api_key: [] }];
}

/**
 * A field or query parameter with a default, and any header, need not be sent: the swagger plugin marks every
 * property declared without `?` as required, defaults included, which would make generated
 * clients demand them.
 */
function defaultsAreOptional(document: OpenAPIObject): void {
  for (const schema of Object.values(document.components?.schemas ?? {}) as Array<{ required?: string[]; properties?: Record<string, { default?: unknown }> }>) {
    if (!schema.required || !schema.properties) continue;
    schema.required = schema.required.filter((name) => schema.properties![name]?.default === undefined);
    if (schema.required.length === 0) delete schema.required;
  }
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      for (const p of (item[method]?.parameters ?? []) as Array<{ in?: string; required?: boolean; schema?: { default?: unknown } }>) {
        // No route of this API needs a header (Idempotency-Key, Cache-Control are optional), while
        // `@Headers()` parameters are documented as required.
        if (p.schema?.default !== undefined || p.in === 'header') p.required = false;
      }
    }
  }
}

/** Sorts object keys recursively, so the written document does not change with module order. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

/**
 * The OpenAPI 3.2 document of the app as configured (served at `/openapi.json`; `npm run openapi`
 * writes the one for the default configuration). The app must have its global prefix set; it need
 * not be initialised or listening. Everything but the DTOs' shapes is stated here, by rules that
 * apply to every route: validation from the validators, stream items, errors, headers, names.
 */
export function buildOpenApiDocument(app: INestApplication, config: AppConfig): OpenAPIObject {
  const keyed = config.security.apiKeys.length > 0;
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.2.0')
    .setTitle('Instagram Captions API')
    .setVersion(API_VERSION)
    .addServer(config.server.publicUrl, 'This deployment (PUBLIC_URL)')
    .setDescription(
      `Captions generated and streamed, caption history paged through millions of rows, batch ` +
        `processing; all data loaded lazily through one chunked loader. Base path \`/${API_PREFIX}\`. ` +
        `Every error has the \`ErrorBody\` shape. Every string of a body or query is trimmed of surrounding ` +
        `white space before it is checked; unknown body fields, and unknown query parameters of a route that takes query parameters, are refused (422). ` +
        (keyed
          ? `Every route but the probes and \`/metrics\` needs \`Authorization: Bearer <key>\` or \`X-API-Key\`. `
          : `No API keys are configured: every route may be called anonymously (a key sent is not checked). `) +
        `\`/metrics\` needs the metrics token (\`METRICS_TOKEN\`) or an API key when either is configured. ` +
        `Streamed responses are described per item (\`itemSchema\`): one NDJSON line, one SSE event.`,
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key (or, on `/metrics`, the metrics token) as a bearer token' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key' }, 'api_key')
    .build();
  const document = SwaggerModule.createDocument(app, builder);
  // The package is not open source: no licence URL to point at.
  document.info.license = { name: 'UNLICENSED (proprietary)' };
  document.components ??= {};
  document.components.schemas = {
    ...document.components.schemas,
    ErrorBody: { ...ERROR_BODY_SCHEMA } as never,
    StreamError: { ...STREAM_ERROR_SCHEMA } as never,
    StreamDone: { ...STREAM_DONE_SCHEMA } as never,
  };
  document.components.headers = RESPONSE_HEADERS as never;
  document.components.parameters = { IdempotencyKey: IDEMPOTENCY_KEY_PARAMETER as never };
  // Bodies the routes read themselves become request bodies first, so the rules of their schemas
  // reach the operations' `x-rules` too.
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) if (item[method]) useRequestContent(item[method]);
  }
  const routes = routeHandlers(app);
  stateValidation(document, routes, config);
  defaultsAreOptional(document);
  const open = new Set(PUBLIC_PATHS);
  const prefix = `/${API_PREFIX}`;
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const route = `${method.toUpperCase()} ${path.startsWith(prefix) ? path.slice(prefix.length) : path}`;
      shareIdempotencyKey(op);
      addErrorResponses(path, op, open.has(path));
      addResponseHeaders(op);
      op.security = securityOf(open.has(path), path, keyed, config);
      const tsdoc = op.summary;
      op.summary = summaryOf(route, tsdoc);
      if (tsdoc && tsdoc.replace(/\s+/g, ' ') !== op.summary) op.description = op.description ?? tsdoc;
      op.operationId = operationIdOf(route, op.operationId ?? '');
    }
  }
  return sortKeys(document) as OpenAPIObject;
}
