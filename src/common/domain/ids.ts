import { Matches } from 'class-validator';

/**
 * A client-chosen id (`user_id`, `request_id`, `batch_id`): 1–64 characters of A-Z, a-z, 0-9,
 * `_`, `.` or `-`. Safe in a URL, a log line, a cache key and a file name as it is.
 */
export const PLAIN_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** {@link PLAIN_ID} as a string, for an OpenAPI `pattern`. */
export const PLAIN_ID_PATTERN = PLAIN_ID.source;

/** The class-validator message for a value that is not a {@link PLAIN_ID}. */
export const PLAIN_ID_MESSAGE = '$property must be 1–64 characters of A-Z, a-z, 0-9, _, . or -';

/**
 * Validates a property as a {@link PLAIN_ID} (the document states it as a `pattern`, as every
 * `@Matches`). Says nothing about presence: pair it with `@IsOptional()` for an optional id.
 */
export function IsPlainId(): PropertyDecorator {
  return Matches(PLAIN_ID, { message: PLAIN_ID_MESSAGE });
}
