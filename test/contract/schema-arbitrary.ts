import fc from 'fast-check';

/** The part of JSON Schema 2020-12 the document uses. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  not?: JsonSchema;
  default?: unknown;
  examples?: unknown[];
  'x-validated-per-item'?: boolean;
}

/** Arrays are kept short: the fuzz run is about rules, not volume (a batch of 3 is a batch). */
const MAX_ITEMS = 3;

/**
 * A fast-check arbitrary of values the schema allows, built from the schema alone (`resolve` follows
 * `$ref`s into the document). `valid` filters what the construction cannot guarantee (`not`,
 * `allOf` patterns): it is the document's own validator.
 */
export function arbitraryOf(schema: JsonSchema, resolve: (ref: string) => JsonSchema): fc.Arbitrary<unknown> {
  if (schema.$ref) return fc.constant(null).chain(() => arbitraryOf(resolve(schema.$ref!), resolve));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches) return fc.oneof(...branches.map((b) => arbitraryOf({ ...b, type: b.type ?? schema.type }, resolve)));
  const type = Array.isArray(schema.type) ? schema.type : [schema.type ?? 'object'];
  if (type.length > 1) return fc.oneof(...type.map((t) => arbitraryOf({ ...schema, type: t }, resolve)));
  switch (type[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case 'string':
      return stringOf(schema);
    case 'array': {
      const max = Math.min(schema.maxItems ?? MAX_ITEMS, MAX_ITEMS);
      return fc.array(arbitraryOf(schema.items ?? {}, resolve), { minLength: Math.min(schema.minItems ?? 0, max), maxLength: max });
    }
    default: {
      const props = schema.properties ?? {};
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(props)) record[k] = arbitraryOf(s, resolve);
      return fc.record(record, { requiredKeys: schema.required ?? [] });
    }
  }
}

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.format === 'date') return dateArb.map((d) => d.toISOString().slice(0, 10));
  if (schema.format === 'date-time') return dateArb.map((d) => d.toISOString());
  const base = schema.pattern
    ? fc.stringMatching(new RegExp(schema.pattern), { size: 'small' })
    : fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) });
  // Values the document offers as examples are spec-valid too, and reach further than random text.
  const examples = (schema.examples ?? []).filter((e): e is string => typeof e === 'string');
  return examples.length ? fc.oneof(fc.constantFrom(...examples), base) : base;
}

const dateArb = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true });

/** A value of the wrong type for `schema`, or outside its bounds or enum: spec-invalid by construction. */
export function invalidValueOf(schema: JsonSchema, resolve: (ref: string) => JsonSchema): fc.Arbitrary<unknown> {
  const s = schema.$ref ? resolve(schema.$ref) : schema;
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  const options: unknown[] = [];
  if (s.enum) options.push('not-one-of-them');
  if (type === 'integer') options.push(1.5, 'twelve');
  if (type === 'integer' || type === 'number') {
    if (s.maximum !== undefined) options.push(s.maximum + 1);
    if (s.minimum !== undefined) options.push(s.minimum - 1);
    options.push('a number?');
  }
  if (type === 'string') options.push(12345, ...(s.pattern ? ['\u0000bad\u0000'] : []), ...(s.maxLength ? ['x'.repeat(s.maxLength + 5)] : []));
  if (type === 'boolean') options.push('maybe');
  if (type === 'array') options.push('not an array', ...(s.maxItems !== undefined && s.maxItems <= 5000 ? [] : []));
  if (type === 'object' || s.properties) options.push('not an object', 42);
  return options.length ? fc.constantFrom(...options) : fc.constant(Symbol('none'));
}
