import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listening } from '../support/raw-request.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { arbitraryOf, invalidValueOf, type JsonSchema } from './schema-arbitrary.js';

// The contract test: requests generated from the document the server serves (every operation,
// walked generically, so a route added later is covered without a line here), sent to the real
// app. For each: no 5xx; the response valid against the documented schema for its status and
// media type (NDJSON per line, SSE per event); a spec-valid request refused only by a rule the
// operation lists (`x-rules`, or a documented 404/409 that depends on state); a spec-invalid one
// never accepted.

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
// At least 2,000 in CI; CONTRACT_FUZZ_RUNS shortens a local run.
const RUNS = Number(process.env.CONTRACT_FUZZ_RUNS ?? 2400);

type Media = { schema?: JsonSchema; itemSchema?: JsonSchema; 'x-validated-per-item'?: boolean };
interface Parameter { name: string; in: string; schema?: JsonSchema; $ref?: string }
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media>; headers?: Record<string, unknown> }>;
  'x-rules'?: Array<{ fields: string[]; rule: string }>;
}
interface Doc { paths: Record<string, Record<string, Operation>>; components: { parameters?: Record<string, Parameter> } }
interface Sent { op: Operation; path: string; method: string; url: string; init: RequestInit; valid: boolean; why: string }

const pointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const baseType = (contentType: string | null) => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

describe('the OpenAPI document as a contract (spec-driven fuzz)', () => {
  let t: TestApp;
  let port: number;
  let doc: Doc;
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: false }));
  const coercing = addFormats(new Ajv2020({ strict: false, coerceTypes: true }));
  const compiled = new Map<string, ValidateFunction>();
  const validatorAt = (at: string) => {
    let v = compiled.get(at);
    if (!v) compiled.set(at, (v = ajv.compile({ $ref: `openapi.json#${at}` })));
    return v;
  };
  /** The node a local `$ref` (`#/components/schemas/X`) points at. */
  const resolve = (ref: string): JsonSchema =>
    ref
      .slice(2)
      .split('/')
      .reduce<Record<string, unknown>>((node, key) => node[key.replace(/~1/g, '/').replace(/~0/g, '~')] as Record<string, unknown>, doc as unknown as Record<string, unknown>);
  const counts = { requests: 0, valid: 0, invalid: 0, accepted: 0, listedRefusals: 0, byOperation: new Map<string, number>() };

  beforeAll(async () => {
    // No rate limit: it would refuse a fuzz run that is a client hammering one address.
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '0' } });
    port = await listening(t.app);
    doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as Doc;
    ajv.addSchema(doc, 'openapi.json');
  });
  afterAll(async () => t.close());

  /** One request of `op`: valid, or with one spec-invalid change. */
  function requestOf(path: string, method: string, op: Operation): fc.Arbitrary<Sent> {
    const at = `/paths/${pointer(path)}/${method}`;
    const params = (op.parameters ?? []).map((p) => (p.$ref ? resolve(p.$ref) as unknown as Parameter : p));
    const query = params.filter((p) => p.in === 'query');
    const headers = params.filter((p) => p.in === 'header');
    const queryArb = fc.record(Object.fromEntries(query.map((p) => [p.name, arbitraryOf(p.schema ?? {}, resolve)])), { requiredKeys: [] });
    const headerArb = fc.record(Object.fromEntries(headers.map((p) => [p.name, arbitraryOf(p.schema ?? {}, resolve)])), { requiredKeys: [] });
    const bodies = Object.entries(op.requestBody?.content ?? {});
    const bodyArb = bodies.length === 0
      ? fc.constant(undefined)
      : fc.constantFrom(...bodies).chain(([media, m]) =>
          m.itemSchema
            ? fc.array(arbitraryOf(m.itemSchema, resolve), { minLength: 1, maxLength: 3 }).map((items) => ({ media, m, value: items }))
            : arbitraryOf(m.schema!, resolve).map((value) => ({ media, m, value })));
    const accepts = Object.keys(Object.values(op.responses).find((_r, i) => Object.keys(op.responses)[i]!.startsWith('2'))?.content ?? {});
    const acceptArb = fc.option(fc.constantFrom(...(accepts.length ? accepts : ['application/json'])), { nil: undefined });
    const mutationArb = fc.oneof(
      { weight: 1, arbitrary: fc.constant<undefined>(undefined) },
      { weight: 1, arbitrary: fc.record({ where: fc.constantFrom('query', 'body', 'unknown'), pick: fc.nat(), value: fc.nat() }) },
    );
    return fc.tuple(queryArb, headerArb, bodyArb, acceptArb, mutationArb).chain(([q, h, body, accept, mutation]) => {
      const qs: Record<string, string> = Object.fromEntries(Object.entries(q).map(([k, v]) => [k, String(v)]));
      let payload = body?.value;
      let valid = true;
      let why = 'valid';
      let bad: fc.Arbitrary<unknown> = fc.constant(undefined);
      let apply: (v: unknown) => void = () => undefined;
      if (mutation?.where === 'query' && query.length > 0) {
        const p = query[mutation.pick % query.length]!;
        bad = invalidValueOf(p.schema ?? {}, resolve);
        apply = (v) => {
          const text = String(v);
          const stillValid = typeof v === 'symbol' || coercing.validate({ type: 'object', properties: { v: p.schema ?? {} } }, { v: text });
          if (stillValid) return;
          qs[p.name] = text;
          valid = false;
          why = `query ${p.name}=${text.slice(0, 40)}`;
        };
      } else if (mutation?.where === 'unknown' && query.length > 0) {
        qs.zz_unknown = '1';
        valid = false;
        why = 'unknown query parameter';
      } else if (mutation?.where === 'body' && body && !body.m.itemSchema) {
        const schema = body.m.schema!.$ref ? resolve(body.m.schema!.$ref) : body.m.schema!;
        const names = Object.keys(schema.properties ?? {});
        const name = names[mutation.pick % Math.max(1, names.length)];
        bad = mutation.value % 3 === 0 || !name ? fc.constant('unknown field') : invalidValueOf(schema.properties![name]!, resolve);
        apply = (v) => {
          if (typeof v === 'symbol') return;
          const copy = { ...(payload as Record<string, unknown>) };
          if (v === 'unknown field') copy.zz_unknown_field = 1;
          else copy[name!] = v;
          if (!validatorAt(`/paths/${pointer(path)}/${method}/requestBody/content/${pointer(body.media)}/schema`)(copy)) {
            payload = copy;
            valid = false;
            why = v === 'unknown field' ? 'unknown body field' : `body ${name}=${JSON.stringify(v).slice(0, 40)}`;
          }
        };
      }
      return bad.map((v): Sent => {
        apply(v);
        const search = new URLSearchParams(qs).toString();
        const init: RequestInit = {
          method: method.toUpperCase(),
          headers: {
            'accept-encoding': 'identity',
            ...(accept ? { accept } : {}),
            ...Object.fromEntries(Object.entries(h).map(([k, val]) => [k, String(val)])),
            ...(body ? { 'content-type': body.media } : {}),
          },
          ...(body
            ? { body: body.m.itemSchema ? (payload as unknown[]).map((x) => JSON.stringify(x)).join('\n') + '\n' : JSON.stringify(payload) }
            : {}),
        };
        return { op, path, method, url: `http://127.0.0.1:${port}${path}${search ? `?${search}` : ''}`, init, valid, why: `${at} ${why}` };
      });
    });
  }

  /** Problems with a response against the document (empty when it conforms). */
  async function problemsOf(sent: Sent, res: Response): Promise<string[]> {
    const problems: string[] = [];
    const doc200 = sent.op.responses[String(res.status)];
    if (!doc200) return [`status ${res.status} is not documented`];
    if (!res.headers.get('x-request-id')) problems.push('no X-Request-Id');
    const media = baseType(res.headers.get('content-type'));
    const text = await res.text();
    if (!doc200.content) return problems;
    const documented = Object.keys(doc200.content).find((m) => baseType(m) === media);
    if (!documented) return [...problems, `media type ${media} is not documented for ${res.status}`];
    const m = doc200.content[documented]!;
    const at = `/paths/${pointer(sent.path)}/${sent.method}/responses/${res.status}/content/${pointer(documented)}`;
    const check = (value: unknown, where: string) => {
      const v = validatorAt(where);
      if (!v(value)) problems.push(`${where}: ${ajv.errorsText(v.errors)} in ${JSON.stringify(value).slice(0, 200)}`);
    };
    if (m.schema && media.endsWith('json')) check(JSON.parse(text), `${at}/schema`);
    else if (m.itemSchema && media === 'application/x-ndjson') {
      for (const line of text.split('\n').filter((l) => l.trim() !== '')) check(JSON.parse(line), `${at}/itemSchema`);
    } else if (m.itemSchema && media === 'text/event-stream') {
      const branches = (m.itemSchema.oneOf ?? []) as Array<{ properties: { event: { const: string } } }>;
      for (const block of text.split('\n\n').filter((b) => b.trim() !== '')) {
        const fields = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trimStart()]));
        const i = branches.findIndex((b) => b.properties.event.const === fields.event);
        if (i === -1) problems.push(`SSE event ${fields.event} is not documented`);
        else check(JSON.parse(fields.data!), `${at}/itemSchema/oneOf/${i}/properties/data/contentSchema`);
      }
    }
    return problems;
  }

  /** A refusal of a spec-valid request that the document explains: a listed rule, or a state the request cannot know. */
  async function listedRefusal(sent: Sent, res: Response): Promise<boolean> {
    const rules = sent.op['x-rules'] ?? [];
    if (res.status === 406) return rules.some((r) => r.fields.includes('Accept'));
    if ((res.status === 404 || res.status === 409) && sent.op.responses[String(res.status)]) return res.status === 409 || sent.path.includes('{');
    if (res.status !== 422) return false;
    const body = (await res.clone().json()) as { details?: Array<{ field: string }> };
    const covered = (field: string) =>
      rules.some((r) => r.fields.some((f) => new RegExp(`^${f.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]+')}(\\.|$)`).test(field)));
    return (body.details ?? []).length > 0 && body.details!.every((d) => covered(d.field));
  }

  it(`sends ${RUNS} generated requests across every operation: no 5xx, every response as documented, refusals only as listed`, async () => {
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
    expect(operations.length).toBeGreaterThan(8);
    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...operations).chain(({ path, method, op }) => requestOf(path, method, op)), async (sent) => {
        const res = await fetch(sent.url, sent.init);
        counts.requests += 1;
        counts.byOperation.set(sent.op.operationId, (counts.byOperation.get(sent.op.operationId) ?? 0) + 1);
        const problems: string[] = [];
        if (res.status >= 500) problems.push(`5xx: ${res.status} ${await res.clone().text()}`);
        if (sent.valid) {
          counts.valid += 1;
          if (res.status >= 400) {
            if (await listedRefusal(sent, res)) counts.listedRefusals += 1;
            else problems.push(`spec-valid request refused ${res.status}: ${(await res.clone().text()).slice(0, 300)}`);
          }
        } else {
          counts.invalid += 1;
          if (res.status < 400) problems.push('spec-invalid request accepted');
        }
        problems.push(...(await problemsOf(sent, res)));
        if (problems.length > 0) failures.push(`${sent.init.method} ${sent.url} (${sent.why}) → ${res.status}: ${problems.join('; ')}`);
        return problems.length === 0;
      }),
      { numRuns: RUNS, endOnFailure: true },
    ).catch((err: Error) => {
      throw new Error(`${failures.at(-1) ?? ''}\n${err.message.split('\n')[0]!.slice(0, 300)}`);
    });
    expect(counts.requests).toBe(RUNS);
    // Every operation was exercised, and both halves of the claim were put to the test.
    for (const { op } of operations) expect(counts.byOperation.get(op.operationId) ?? 0, op.operationId).toBeGreaterThan(RUNS / operations.length / 4);
    expect(counts.invalid).toBeGreaterThan(RUNS / 10);
    expect(counts.valid - counts.listedRefusals).toBeGreaterThan(RUNS / 4);
  }, 900_000);
});
