// Decorator metadata for class-transformer, also when the DTO is used outside Nest (engine tests, benches).
import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Max,
  maxLength,
  Min,
  ValidateNested,
  registerDecorator,
  type ValidationOptions,
} from 'class-validator';
import {
  AUDIENCES,
  CAPTION_STYLES,
  CONTENT_TYPES,
  LANGUAGES,
  OPTIMIZATION_LEVELS,
  PRIORITIES,
  type Audience,
  type CaptionStyle,
  type ContentType,
  type Language,
  type OptimizationLevel,
  type Priority,
} from './caption-options.js';
import { IsPlainId } from '../../common/domain/ids.js';
import { EXECUTABLE_MARKUP_PATTERN, hasExecutableMarkup } from './executable-markup.js';
import { ApiConfigBound, ApiRules, registerSchemaRule } from '../../common/openapi/schema-rules.js';

const ZONE_SYNTAX = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

registerSchemaRule('noExecutableMarkup', () => ({ schema: { not: { pattern: EXECUTABLE_MARKUP_PATTERN } } }));
registerSchemaRule('isIanaTimeZone', () => ({
  schema: { pattern: `^\\s*(?:${ZONE_SYNTAX.source.slice(1, -1)})\\s*$`, examples: ['UTC', 'Europe/Paris'] },
  listed: 'must name a zone of the server\'s IANA time zone database',
}));

/**
 * Rejects markup a browser could run if a caption were shown unescaped (`<script`, `<iframe`,
 * `javascript:`, `on…=` handlers inside a tag), in a string or in each string of an array.
 * A string over `maxChars` is not searched: its length rule already refuses it, and the search,
 * linear as it is, would only spend time on a body the request cannot use.
 */
function NoExecutableMarkup(maxChars: number, options?: ValidationOptions): PropertyDecorator {
  const allowed = (v: unknown) => typeof v !== 'string' || !maxLength(v, maxChars) || !hasExecutableMarkup(v);
  return (target, propertyName) =>
    registerDecorator({
      name: 'noExecutableMarkup',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must not contain script markup (<script, <iframe, javascript:, on…= handlers)', ...options },
      validator: {
        validate: (value: unknown) => (Array.isArray(value) ? value.every(allowed) : allowed(value)),
      },
    });
}

/** Zones already accepted: building an Intl.DateTimeFormat per request cost ~15% of batch CPU. Only valid names are kept, so it is bounded by the zone database. */
const knownZones = new Set<string>();

/** True for an IANA zone name the runtime knows (`UTC`, `Europe/Paris`…). */
export function isIanaTimeZone(value: unknown): boolean {
  if (typeof value !== 'string' || !ZONE_SYNTAX.test(value)) return false;
  if (knownZones.has(value)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    knownZones.add(value);
    return true;
  } catch {
    return false;
  }
}

function IsIanaTimeZone(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isIanaTimeZone',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must be an IANA time zone name such as UTC or Europe/Paris' },
      validator: { validate: isIanaTimeZone },
    });
}

/** `brand_info`: used by the engine for wording (name, voice) and hashtags (keywords). */
export class BrandInfo {
  @IsOptional() @IsString() @Length(1, 100) @NoExecutableMarkup(100)
  name?: string;

  @IsOptional() @IsString() @Length(1, 200) @NoExecutableMarkup(200)
  voice?: string;

  @IsOptional() @IsArray() @ArrayMaxSize(20) @IsString({ each: true }) @Length(1, 40, { each: true }) @NoExecutableMarkup(40)
  keywords?: string[];
}

/** `CaptionGenerationRequest`: what to write about and how, with its rules and defaults. */
@ApiRules(
  { fields: ['max_length'], rule: '`max_length` must leave room for `hashtag_count` hashtags and a caption (the 422 names the minimum)' },
  { fields: ['language'], rule: '`language` must be one a configured engine writes (the 422 names those that do)' },
)
export class CaptionGenerationRequest {
  @IsString() @Length(5, 2000) @NoExecutableMarkup(2000)
  content_description!: string;

  @IsIn(CAPTION_STYLES)
  style: CaptionStyle = 'casual';

  @IsIn(AUDIENCES)
  audience: Audience = 'general';

  @IsIn(CONTENT_TYPES)
  content_type: ContentType = 'post';

  /**
   * Hashtags per caption. 30 is the absolute bound; the effective maximum is the server's
   * `HASHTAG_LIMIT` (default 5: Instagram allows five hashtags on a post or reel). Above it: 422
   * `validation_failed` naming the limit and the setting.
   */
  @IsInt() @Min(1) @Max(30) @ApiConfigBound('maximum', (c) => c.captions.hashtagLimit)
  hashtag_count: number = 5;

  @IsBoolean()
  include_hashtags: boolean = true;

  @IsBoolean()
  include_emojis: boolean = true;

  @IsBoolean()
  include_cta: boolean = true;

  @IsIn(OPTIMIZATION_LEVELS)
  optimization_level: OptimizationLevel = 'balanced';

  @IsIn(PRIORITIES)
  priority: Priority = 'normal';

  /**
   * The offline engine writes some languages; the others only the LLM engine writes. A language no
   * configured engine can write is a 422 naming the language and what would serve it (`LLM_BASE_URL`).
   */
  @IsIn(LANGUAGES)
  language: Language = 'english';

  @IsIanaTimeZone()
  timezone: string = 'UTC';

  @IsInt() @Min(50) @Max(2200)
  max_length: number = 2200;

  @IsInt() @Min(1) @Max(10)
  variation_count: number = 3;

  @IsOptional() @IsPlainId()
  user_id?: string;

  @IsOptional() @IsObject() @ValidateNested() @Type(() => BrandInfo)
  brand_info?: BrandInfo;

  @IsOptional() @IsPlainId()
  request_id?: string;
}

/**
 * A request with every default filled in, from a plain object (batch items, tests, benches).
 * Does not validate: use it on input that already passed the validation pipe.
 */
export function withDefaults(input: Partial<CaptionGenerationRequest> & { content_description: string }): CaptionGenerationRequest {
  return Object.assign(new CaptionGenerationRequest(), input);
}
