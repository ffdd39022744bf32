import type { Type } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata.js';
import {
  configBounds,
  integerFields,
  listedRulesOf,
  ruledClasses,
  schemaRuleOf,
  type ListedRule,
  type SchemaFragment,
} from '../common/openapi/schema-rules.js';
import type { AppConfig } from '../config/app-config.js';
import type { RouteHandler } from './openapi-routes.js';

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; items?: Schema; required?: string[]; description?: string };

/** Every class class-validator holds rules for (request bodies, their nested classes, queries). */
function validatedClasses(): Type[] {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<Type, unknown> };
  return [...storage.validationMetadatas.keys()];
}

function rulesOf(cls: Type): ValidationMetadata[] {
  return getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
}

const ARRAY_KEYWORDS = ['minItems', 'maxItems'];

/** Merges a rule's keywords into a property's schema; a second pattern goes into `allOf`. */
function merge(target: Schema, fragment: SchemaFragment): void {
  for (const [key, value] of Object.entries(fragment)) {
    if (key === 'type') {
      // A `$ref` or a nullable type keeps its shape; `integer` narrows `number`.
      if (target.$ref !== undefined) continue;
      target.type = Array.isArray(target.type) ? (target.type as unknown[]).map((t) => (t === 'number' ? value : t)) : value;
    } else if (key === 'pattern' && target.pattern !== undefined && target.pattern !== value) {
      target.allOf = [...((target.allOf as unknown[]) ?? []), { pattern: value }];
    } else {
      target[key] = value;
    }
  }
}

/** A listed rule's sentence, once, at the end of a description. */
function note(schema: { description?: string }, sentence: string): void {
  const line = `Rule: ${sentence}.`;
  if (schema.description?.includes(line)) return;
  schema.description = schema.description ? `${schema.description}\n\n${line}` : line;
}

/**
 * States each property's class-validator rules in its schema (`schemaFor(property)`), and returns
 * the rules a schema cannot state. A validator without a declared schema rule stops the document
 * generation: a rule the server enforces must not go unstated.
 */
function stateRules(cls: Type, schemaFor: (property: string) => Schema | undefined, path: (p: string) => string): ListedRule[] {
  const listed: ListedRule[] = [];
  for (const m of rulesOf(cls)) {
    const name = m.name ?? m.type;
    if (m.type === 'whitelistValidation') continue;
    const rule = schemaRuleOf(name);
    if (!rule) throw new Error(`No schema rule for validator "${name}" (${cls.name}.${m.propertyName}): declare one with registerSchemaRule`);
    const target = schemaFor(m.propertyName);
    // A class outside the swagger plugin's files (a test's own DTO) has no documented properties.
    if (!target) continue;
    const { schema, listed: sentence } = rule(m.constraints ?? []);
    if (schema) {
      const intoItems = target.type === 'array' && (m.each === true || !Object.keys(schema).some((k) => ARRAY_KEYWORDS.includes(k) || k === 'type'));
      if (intoItems) merge((target.items ??= {}), schema);
      else merge(target, schema);
    }
    if (sentence) {
      note(target, `${m.propertyName} ${sentence}`);
      listed.push({ fields: [path(m.propertyName)], rule: `${m.propertyName} ${sentence}` });
    }
  }
  for (const r of listedRulesOf(cls)) {
    for (const field of r.fields) {
      const target = schemaFor(field);
      if (target) note(target, r.rule);
    }
    listed.push({ fields: r.fields.map(path), rule: r.rule });
  }
  return listed;
}

/** Operations' `x-rules`: what a contract test accepts a 422 for on a request the schema allows. */
export const RULES_EXTENSION = 'x-rules';

/**
 * States the server's validation in the document, from the validators themselves, so a route or
 * DTO added later is described by the same rules it is checked by:
 * - each request schema (a class with class-validator rules) gets its properties' rules and
 *   `additionalProperties: false` (unknown fields are refused); its listed rules go to `x-rules`;
 * - each operation's query parameters get the rules of its `@Query()` class;
 * - response properties marked `@ApiInt()` become integers;
 * - bounds set by configuration take this configuration's values.
 */
export function stateValidation(document: OpenAPIObject, routes: Map<string, RouteHandler>, config: AppConfig): void {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  const schemaRules = new Map<string, ListedRule[]>();
  // With the classes that only list rules (a body its service checks, with no class-validator rule
  // of its own): they refuse unknown fields as every request body does.
  for (const cls of new Set([...validatedClasses(), ...ruledClasses()])) {
    const schema = schemas[cls.name];
    if (!schema?.properties) continue;
    schema.additionalProperties = false;
    schemaRules.set(cls.name, stateRules(cls, (p) => schema.properties![p], (p) => p));
  }
  for (const [name, fields] of integerFields()) {
    for (const field of fields) {
      const target = schemas[name]?.properties?.[field];
      if (target) merge(target, { type: 'integer' });
    }
  }
  for (const bound of configBounds()) {
    const target = schemas[bound.schema]?.properties?.[bound.property];
    if (target) target[bound.keyword] = Math.min(bound.of(config), (target[bound.keyword] as number | undefined) ?? Infinity);
  }
  for (const item of Object.values(document.paths)) {
    for (const op of Object.values(item) as Array<Record<string, unknown> & { operationId?: string; parameters?: Array<Schema & { in?: string; name?: string; schema?: Schema }> }>) {
      if (typeof op !== 'object' || !op.operationId) continue;
      const route = routes.get(op.operationId);
      const listed: ListedRule[] = [];
      if (route?.query) {
        const params = new Map((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => [p.name!, p]));
        listed.push(
          ...stateRules(route.query, (name) => {
            const p = params.get(name);
            return p ? (p.schema ??= {}) : undefined;
          }, (p) => p),
        );
      }
      for (const name of referencedSchemas(op.requestBody, schemas)) listed.push(...(schemaRules.get(name) ?? []).map(nestedUnder(name, schemas, op.requestBody)));
      if (listed.length > 0) op[RULES_EXTENSION] = listed;
    }
  }
}

/** Names of the component schemas a value references, transitively. */
function referencedSchemas(value: unknown, schemas: Record<string, Schema>, seen = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => referencedSchemas(v, schemas, seen));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') {
        const name = v.split('/').pop()!;
        if (!seen.has(name)) {
          seen.add(name);
          referencedSchemas(schemas[name], schemas, seen);
        }
      } else referencedSchemas(v, schemas, seen);
    }
  }
  return seen;
}

/**
 * A nested schema's rule names its fields from the body's root as the server does (`requests.3.language`
 * for a request inside a batch): listed with the `*` wildcard for array positions.
 */
function nestedUnder(name: string, schemas: Record<string, Schema>, body: unknown): (r: ListedRule) => ListedRule {
  const roots = new Set<string>();
  const content = (body as { content?: Record<string, { schema?: { $ref?: string }; itemSchema?: { $ref?: string } }> } | undefined)?.content ?? {};
  for (const media of Object.values(content)) roots.add(((media.schema ?? media.itemSchema)?.$ref ?? '').split('/').pop()!);
  if (roots.has(name)) return (r) => r;
  // One level of nesting is what the API has (a batch's `requests`); deeper is stated at its root.
  for (const root of roots) {
    for (const [prop, s] of Object.entries(schemas[root]?.properties ?? {})) {
      const ref = (s.items?.$ref ?? s.$ref) as string | undefined;
      if (ref?.endsWith(`/${name}`)) {
        const prefix = s.type === 'array' ? `${prop}.*.` : `${prop}.`;
        return (r) => ({ fields: r.fields.map((f) => prefix + f), rule: r.rule });
      }
    }
  }
  return (r) => r;
}
