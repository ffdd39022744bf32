import { ValidationPipe, type ValidationError } from '@nestjs/common';
import type { ValidatorOptions } from 'class-validator';
import { ApiError, type ErrorDetail } from '../errors/api-error.js';

/**
 * How every request body and query is validated: an unknown field is a 422 (never silently
 * dropped), an object of no known class is refused, and errors carry neither the object nor the
 * value (a 422 never echoes what was sent). The global pipe uses these, and so does a route that
 * validates a body itself with `validateSync`.
 */
export const VALIDATOR_OPTIONS: Readonly<ValidatorOptions> = Object.freeze({
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: Object.freeze({ target: false, value: false }),
});

/** Turns class-validator's tree into one detail per bad field, with dotted paths (`brand_info.name`, `requests.3.style`). */
export function validationDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const messages = Object.values(e.constraints ?? {});
    if (messages.length > 0) {
      out.push({ field, message: messages.map((m) => stripSubject(m, e.property)).join('; ') });
    }
    if (e.children?.length) out.push(...validationDetails(e.children, field));
  }
  return out;
}

/** class-validator says "hashtag_count must not be…" or "property foo should not exist"; the field is named apart. */
function stripSubject(message: string, property: string): string {
  for (const prefix of [`property ${property} `, `${property} `]) {
    if (message.startsWith(prefix)) return message.slice(prefix.length);
  }
  return message;
}

/** Builds the 422 the contract asks for from class-validator errors. */
export function validationException(errors: ValidationError[]): ApiError {
  const details = validationDetails(errors);
  const message = details.map((d) => `${d.field} ${d.message}`).join('; ') || 'Validation failed';
  return new ApiError(422, 'validation_failed', message, details);
}

/** The global pipe: {@link VALIDATOR_OPTIONS}, plus transform, and a 422 per field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({ ...VALIDATOR_OPTIONS, transform: true, exceptionFactory: validationException });
}
