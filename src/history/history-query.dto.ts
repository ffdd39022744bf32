import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsPlainId } from '../common/domain/ids.js';
import { endOfDay, isDateOnly, IsDateOrDateTime, parseDateOrDateTime } from '../common/domain/rfc3339.js';
import { ApiRules } from '../common/openapi/schema-rules.js';
import { ApiError } from '../common/errors/api-error.js';
import { HISTORY_STYLES, type HistoryFilter } from './history.types.js';

/**
 * An empty parameter (`user_id=`, as clients that send every parameter do) means "not given":
 * `fallback` (the default) instead of a 422. A number parameter is converted here; what is not a
 * number stays NaN and fails validation.
 */
const emptyAs = (fallback: unknown, convert: (v: unknown) => unknown = (v) => v) =>
  Transform(({ value }) => (value === '' || value === undefined ? fallback : convert(value)));
const toNumber = (v: unknown) => (typeof v === 'string' ? Number(v) : NaN);

/** The filters both history routes take. */
@ApiRules({ fields: ['date_from'], rule: '`date_from` must not be after `date_to`' })
export class HistoryFilterDto {
  @emptyAs(undefined) @IsOptional() @IsPlainId()
  user_id?: string;

  @emptyAs(undefined) @IsOptional() @IsIn(HISTORY_STYLES)
  style?: string;

  @emptyAs(undefined) @IsOptional() @IsDateOrDateTime()
  date_from?: string;

  /** Inclusive; a date without a time means the whole of that day (UTC). */
  @emptyAs(undefined) @IsOptional() @IsDateOrDateTime()
  date_to?: string;
}

/** `GET /caption-history`. */
@ApiRules(
  { fields: ['page'], rule: '`page × page_size` must not exceed `HISTORY_MAX_OFFSET` (100,000 by default) without a `cursor`' },
  { fields: ['cursor'], rule: '`cursor` must be a `next_cursor`/`prev_cursor` this service issued for the same filters' },
)
export class HistoryPageQueryDto extends HistoryFilterDto {
  /**
   * Pages by number reach the first `HISTORY_MAX_OFFSET` rows (`page × page_size`, 100,000 by
   * default); deeper, a 422 names `page` and cursor pagination reads on.
   */
  @emptyAs(1, toNumber) @IsInt() @Min(1) @Max(1_000_000_000)
  page: number = 1;

  @emptyAs(50, toNumber) @IsInt() @Min(1) @Max(1000)
  page_size: number = 50;

  /** Opaque, from `next_cursor`/`prev_cursor`; when given, `page` is not used. */
  @emptyAs(undefined) @IsOptional() @IsString() @MaxLength(512)
  cursor?: string;

  @emptyAs(true, (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v))
  @IsBoolean({ message: 'must be true or false' })
  include_total: boolean = true;
}

export const EXPORT_FORMATS = ['ndjson', 'csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** `GET /caption-history/export`. */
@ApiRules({ fields: ['format', 'Accept'], rule: 'when both `format` and `Accept` are given, `Accept` must allow the media type of `format` (else 406)' })
export class HistoryExportQueryDto extends HistoryFilterDto {
  /**
   * The format; without it, `Accept` picks one of `application/x-ndjson`, `text/csv` and
   * `application/json` (NDJSON when `Accept` is absent or takes any type). When both are given, `Accept`
   * must allow the format's media type, else 406.
   */
  @emptyAs(undefined) @IsOptional() @IsIn(EXPORT_FORMATS)
  format?: ExportFormat;
}

/**
 * The DTO's filters as epoch milliseconds.
 * @throws ApiError 422 on `date_from` when it is after `date_to`.
 */
export function toFilter(dto: HistoryFilterDto): HistoryFilter {
  const from = dto.date_from === undefined ? undefined : parseDateOrDateTime(dto.date_from);
  let to = dto.date_to === undefined ? undefined : parseDateOrDateTime(dto.date_to);
  if (to !== undefined && isDateOnly(dto.date_to!)) to = endOfDay(to);
  if (from !== undefined && to !== undefined && from > to) throw ApiError.invalid('date_from', 'must not be after date_to');
  return { userId: dto.user_id, style: dto.style, from, to };
}
