import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { API_PREFIX, LIVENESS_PATH, METRICS_PATH, PUBLIC_PATHS } from './app.routes.js';
import pluginMetadata from '../metadata.js';
import { API_VERSION } from '../common/domain/api-version.js';

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

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
};

type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * Adds the error responses every route can give, from what the operation takes: each route can
 * answer 500 and (but liveness) 503 when shutting down; protected ones 401 and 429 (`/metrics` 401 for its token); a body brings 400, 413, 415 and
 * 422; query or path parameters 422; path parameters 404. Routes document their own others (406 on
 * negotiated streams, 409 on idempotency conflicts); what a controller documents is kept.
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
    if (op.responses[status]) continue;
    op.responses[status] = {
      description: ERRORS[status]!,
      content: JSON_ERROR,
      ...(status === '429' ? { headers: RETRY_AFTER } : {}),
    };
  }
  if (isPublic) op.security = [];
  if (path === METRICS_PATH) {
    // Its own credentials: the metrics token or an API key, when either is configured.
    op.responses['401'] ??= {
      description: '`unauthorized`: `METRICS_TOKEN` or `API_KEYS` is configured and the request bears neither that token nor a valid key',
      content: JSON_ERROR,
    };
    op.security = [{}, { bearer: [] }];
  }
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
 * The OpenAPI 3.1 document of the app (served at `/openapi.json`, written by `npm run openapi`).
 * The app must have its global prefix set; it need not be initialised or listening.
 */
export function buildOpenApiDocument(app: INestApplication, serverUrl: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Instagram Captions API')
    .setVersion(API_VERSION)
    .addServer(serverUrl, 'This deployment (PUBLIC_URL)')
    .setDescription(
      `Captions generated and streamed, caption history paged through millions of rows, batch ` +
        `processing; all data loaded lazily through one chunked loader. Base path \`/${API_PREFIX}\`. ` +
        `Every error has the \`ErrorBody\` shape. When the server is configured with \`API_KEYS\`, every ` +
        `route but the probes and \`/metrics\` needs \`Authorization: Bearer <key>\` or \`X-API-Key\`; \`/metrics\` ` +
        `needs the metrics token (\`METRICS_TOKEN\`) or an API key when either is configured.`,
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key as a bearer token' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key' }, 'api_key')
    .addSecurityRequirements('bearer')
    .addSecurityRequirements('api_key')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // The package is not open source: no licence URL to point at.
  document.info.license = { name: 'UNLICENSED (proprietary)' };
  document.components ??= {};
  document.components.schemas = { ...document.components.schemas, ErrorBody: { ...ERROR_BODY_SCHEMA } as never };
  defaultsAreOptional(document);
  const open = new Set(PUBLIC_PATHS);
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (op) addErrorResponses(path, op, open.has(path));
    }
  }
  return sortKeys(document) as OpenAPIObject;
}
