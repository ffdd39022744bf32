import type { Type } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';

/** A JSON Schema fragment merged into a property's schema (or into its `items` for `each` rules). */
export type SchemaFragment = Record<string, unknown>;

/**
 * What the document says about one class-validator rule: the schema keywords that state it and,
 * for a rule a schema cannot state exactly, the sentence that lists it (it lands in the field's
 * description and in the operation's `x-rules`, where a contract test finds it).
 */
export interface SchemaRule {
  schema?: SchemaFragment;
  listed?: string;
}

type RuleOf = (constraints: unknown[]) => SchemaRule;

/**
 * Every string is trimmed before it is checked, so a length counts the trimmed text: stated as a
 * pattern on the text between leading and trailing white space (JSON Schema has no "trim").
 */
export function trimmedLength(min: number, max?: number): SchemaFragment {
  const upper = max === undefined ? '' : String(Math.max(0, max - 2));
  if (min <= 0) return {};
  const body = min === 1 ? `\\S(?:[\\s\\S]{0,${upper}}\\S)?` : `\\S[\\s\\S]{${min - 2},${upper}}\\S`;
  return { minLength: min, pattern: `^\\s*${body}\\s*$` };
}

const RULES = new Map<string, RuleOf>([
  ['isInt', () => ({ schema: { type: 'integer' } })],
  ['isNumber', () => ({ schema: { type: 'number' } })],
  ['isBoolean', () => ({ schema: { type: 'boolean' } })],
  ['isString', () => ({ schema: { type: 'string' } })],
  ['isArray', () => ({ schema: { type: 'array' } })],
  ['isObject', () => ({ schema: { type: 'object' } })],
  ['isIn', ([values]) => ({ schema: { enum: values } })],
  ['min', ([n]) => ({ schema: { minimum: n } })],
  ['max', ([n]) => ({ schema: { maximum: n } })],
  ['isLength', ([min, max]) => ({ schema: trimmedLength(min as number, max as number | undefined) })],
  ['minLength', ([min]) => ({ schema: trimmedLength(min as number) })],
  ['maxLength', ([max]) => ({ schema: trimmedLength(1, max as number) })],
  ['arrayNotEmpty', () => ({ schema: { minItems: 1 } })],
  ['arrayMinSize', ([n]) => ({ schema: { minItems: n } })],
  ['arrayMaxSize', ([n]) => ({ schema: { maxItems: n } })],
  ['matches', ([re]) => ({ schema: { pattern: trimmedPattern((re as RegExp).source) } })],
  // Presence and nesting are stated by `required` and `$ref`.
  ['isOptional', () => ({})],
  ['nestedValidation', () => ({})],
]);

/** An anchored pattern that also takes the white space trimming removes. */
function trimmedPattern(source: string): string {
  return source.startsWith('^') && source.endsWith('$') ? `^\\s*(?:${source.slice(1, -1)})\\s*$` : source;
}

/**
 * Declares how the document states a custom validator (one made with `registerDecorator`), by the
 * name it registers. The document generation refuses a validator it has no rule for, so a new rule
 * cannot go unstated.
 */
export function registerSchemaRule(name: string, rule: RuleOf): void {
  RULES.set(name, rule);
}

/** The rule for a class-validator constraint, or undefined when none is declared. */
export function schemaRuleOf(name: string): RuleOf | undefined {
  return RULES.get(name);
}

/** A rule no single field's schema can state: across fields, or on the server's configuration. */
export interface ListedRule {
  /** The fields a 422 for this rule names. */
  fields: string[];
  rule: string;
}

const CLASS_RULES = new Map<Type, ListedRule[]>();

/**
 * Lists rules of a request class that its schema cannot state (between fields, or depending on the
 * server's configuration). They go into the fields' descriptions and the operations' `x-rules`.
 */
export function ApiRules(...rules: ListedRule[]): ClassDecorator {
  return (target) => {
    const cls = target as unknown as Type;
    CLASS_RULES.set(cls, [...(CLASS_RULES.get(cls) ?? []), ...rules]);
  };
}

/** Classes {@link ApiRules} lists rules for, including those no class-validator rule is declared on. */
export function ruledClasses(): Iterable<Type> {
  return CLASS_RULES.keys();
}

/** The rules {@link ApiRules} lists for a class, with those of its parents. */
export function listedRulesOf(cls: Type): ListedRule[] {
  const out: ListedRule[] = [];
  for (let c: Type | null = cls; c && (c as unknown) !== Function.prototype; c = Object.getPrototypeOf(c) as Type | null) {
    out.push(...(CLASS_RULES.get(c) ?? []));
  }
  return out;
}

const INTEGERS = new Map<string, Set<string>>();

/** Marks a response property as an integer (request properties get it from `@IsInt()`). */
export function ApiInt(): PropertyDecorator {
  return (target, property) => {
    const name = (target.constructor).name;
    INTEGERS.set(name, (INTEGERS.get(name) ?? new Set()).add(String(property)));
  };
}

/** Response properties marked with {@link ApiInt}, by class name. */
export function integerFields(): ReadonlyMap<string, ReadonlySet<string>> {
  return INTEGERS;
}

/** A bound the server's configuration sets (decorators cannot read configuration). */
export interface ConfigBound {
  schema: string;
  property: string;
  keyword: 'maximum' | 'maxItems' | 'maxLength';
  of: (config: AppConfig) => number;
}

const BOUNDS: ConfigBound[] = [];

/**
 * States a bound that comes from configuration (`HASHTAG_LIMIT`, `BATCH_MAX_REQUESTS`) in the
 * document generated for that configuration.
 */
export function ApiConfigBound(keyword: ConfigBound['keyword'], of: ConfigBound['of']): PropertyDecorator {
  return (target, property) => {
    BOUNDS.push({ schema: (target.constructor).name, property: String(property), keyword, of });
  };
}

export function configBounds(): readonly ConfigBound[] {
  return BOUNDS;
}
