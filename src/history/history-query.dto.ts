import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsPlainId } from '../common/domain/ids.js';
import { ApiError } from '../common/errors/api-error.js';
import { HISTORY_STYLES, type HistoryFilter } from './history.types.js';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * An empty parameter (`user_id=`, as clients that send every parameter do) means "not given":
 * `fallback` (the default) instead of a 422. A number parameter is converted here; what is not a
 * number stays NaN and fails validation.
 */
const emptyAs = (fallback: unknown, convert: (v: unknown) => unknown = (v) => v) =>
  Transform(({ value }) => (value === '' || value === undefined ? fallback : convert(value)));
const toNumber = (v: unknown) => (typeof v === 'string' ? Number(v) : NaN);
const DAY_MS = 86_400_000;

/** The filters both history routes take. */
export class HistoryFilterDto {
  @emptyAs(undefined) @IsOptional() @IsPlainId()
  user_id?: string;

  @emptyAs(undefined) @IsOptional() @IsIn(HISTORY_STYLES)
  style?: string;

  @emptyAs(undefined) @IsOptional() @IsISO8601({ strict: true, strictSeparator: true }, { message: 'must be an ISO 8601 date or date-time' })
  date_from?: string;

  /** Inclusive; a date without a time means the whole of that day (UTC). */
  @emptyAs(undefined) @IsOptional() @IsISO8601({ strict: true, strictSeparator: true }, { message: 'must be an ISO 8601 date or date-time' })
  date_to?: string;
}

/** `GET /caption-history`. */
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
export class HistoryExportQueryDto extends HistoryFilterDto {
  @emptyAs('ndjson') @IsIn(EXPORT_FORMATS)
  format: ExportFormat = 'ndjson';
}

/**
 * The DTO's filters as epoch milliseconds.
 * @throws ApiError 422 on `date_from` when it is after `date_to`.
 */
export function toFilter(dto: HistoryFilterDto): HistoryFilter {
  const from = dto.date_from === undefined ? undefined : Date.parse(dto.date_from);
  let to = dto.date_to === undefined ? undefined : Date.parse(dto.date_to);
  if (to !== undefined && DATE_ONLY.test(dto.date_to!)) to += DAY_MS - 1;
  for (const [field, v] of [['date_from', from], ['date_to', to]] as const) {
    if (v !== undefined && !Number.isFinite(v)) throw ApiError.invalid(field, 'is not a valid date');
  }
  if (from !== undefined && to !== undefined && from > to) throw ApiError.invalid('date_from', 'must not be after date_to');
  return { userId: dto.user_id, style: dto.style, from, to };
}
