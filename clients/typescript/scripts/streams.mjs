// Writes src/generated/streams.ts: the type of one item of every streamed body in openapi.json
// (an NDJSON line, an SSE event), by operation id and media type. openapi-typescript 7 types the
// components but not OpenAPI 3.2's `itemSchema`; this fills that gap from the same document.
// Run by the root `npm run openapi`.
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(input, 'utf8'));
const name = (ref) => `S['${ref.split('/').pop()}']`;

/** The TypeScript type of the subset of JSON Schema item schemas use: refs, oneOf, SSE events. */
function typeOf(schema) {
  if (schema.$ref) return name(schema.$ref);
  if (schema.oneOf) return schema.oneOf.map(typeOf).join(' | ');
  const event = schema.properties?.event?.const;
  const data = schema.properties?.data?.contentSchema;
  if (event !== undefined && data) return `{ event: '${event}'; data: ${typeOf(data)}; id?: string }`;
  throw new Error(`streams.mjs: no type for item schema ${JSON.stringify(schema)}`);
}

const responses = [];
const requests = [];
for (const item of Object.values(doc.paths)) {
  for (const op of Object.values(item)) {
    if (!op?.operationId) continue;
    const media = Object.entries(op.responses?.['200']?.content ?? {}).filter(([, m]) => m.itemSchema);
    if (media.length) responses.push(`  ${op.operationId}: {\n${media.map(([t, m]) => `    '${t}': ${typeOf(m.itemSchema)};`).join('\n')}\n  };`);
    const body = Object.entries(op.requestBody?.content ?? {}).filter(([, m]) => m.itemSchema);
    if (body.length) requests.push(`  ${op.operationId}: {\n${body.map(([t, m]) => `    '${t}': ${typeOf(m.itemSchema)};`).join('\n')}\n  };`);
  }
}
writeFileSync(
  output,
  `// Generated from openapi.json by scripts/streams.mjs (npm run openapi): do not edit.
import type { components } from './api.js';

type S = components['schemas'];

/** One item of each streamed response body, by operation id and media type. */
export interface StreamItems {
${responses.join('\n')}
}

/** One line of each NDJSON request body, by operation id and media type. */
export interface UploadItems {
${requests.join('\n')}
}
`,
);
