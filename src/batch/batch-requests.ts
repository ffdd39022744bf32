import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { CaptionGenerationRequest } from '../captions/dto/caption-generation-request.dto.js';
import { PLAIN_ID } from '../common/domain/ids.js';
import { ApiError } from '../common/errors/api-error.js';
import { SanitizeInputPipe } from '../common/http/sanitize-input.pipe.js';
import { VALIDATOR_OPTIONS, validationDetails, validationException } from '../common/http/validation.js';
import type { BatchInput } from './batch.types.js';
import type { NdjsonLine } from './ndjson-body.reader.js';

const sanitizer = new SanitizeInputPipe();

/**
 * Validates a plain body as the global pipe would (the batch route reads its body itself, since
 * an NDJSON upload has none for the pipe to see). Fields in `asIs` are validated but not copied
 * through class-transformer: deep-copying 10,000 batch requests would delay the first result.
 * @throws ApiError 422 naming every bad field.
 */
export function validateBody<T extends object>(cls: ClassConstructor<T>, plain: unknown, asIs: string[] = []): T {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    throw ApiError.invalid('body', 'must be a JSON object');
  }
  const shallow: Record<string, unknown> = { ...plain };
  const kept: Record<string, unknown> = {};
  for (const field of asIs) {
    if (field in shallow) kept[field] = shallow[field];
    delete shallow[field];
  }
  const instance = Object.assign(plainToInstance(cls, shallow), kept);
  const errors = validateSync(instance, VALIDATOR_OPTIONS);
  if (errors.length > 0) throw validationException(errors);
  return instance;
}

/** The id a client gave, when it is a valid one (for a failed item, so the client can match it). */
function givenId(raw: unknown): string | undefined {
  const id = (raw as { request_id?: unknown } | null)?.request_id;
  return typeof id === 'string' && PLAIN_ID.test(id.trim()) ? id.trim() : undefined;
}

/**
 * 422 when two requests of a JSON batch carry the same `request_id`, naming both positions.
 * Checked before any work starts.
 */
export function assertUniqueRequestIds(requests: unknown[]): void {
  const seen = new Map<string, number>();
  requests.forEach((raw, i) => {
    const id = givenId(raw);
    if (id === undefined) return;
    const first = seen.get(id);
    if (first !== undefined) {
      throw ApiError.invalid(`requests.${i}.request_id`, `duplicates requests.${first}.request_id ("${id}")`);
    }
    seen.set(id, i);
  });
}

/** Rules a request that passed the DTO may still break (the server's limits, the engine's): throws an ApiError. */
export type RequestCheck = (request: CaptionGenerationRequest) => void;

/**
 * One caption request of a batch, validated on its own, then by `check`: a bad one becomes a
 * failed item with the error body's code, message and details. Its `request_id` is made up when
 * absent.
 */
export function toBatchInput(raw: unknown, index: number, check?: RequestCheck): BatchInput<CaptionGenerationRequest> {
  const id = givenId(raw) ?? null;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { index, request_id: id, error: { code: 'validation_failed', message: 'a caption request must be a JSON object' } };
  }
  try {
    sanitizer.transform(raw, { type: 'body' });
    const request = plainToInstance(CaptionGenerationRequest, raw);
    const errors = validateSync(request, VALIDATOR_OPTIONS);
    if (errors.length > 0) {
      const details = validationDetails(errors);
      return {
        index,
        request_id: id,
        error: { code: 'validation_failed', message: details.map((d) => `${d.field} ${d.message}`).join('; '), details },
      };
    }
    check?.(request);
    request.request_id ??= randomUUID();
    return { index, request_id: request.request_id, request };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { index, request_id: id, error: { code: err.code, message: err.message, details: err.details } };
  }
}

/** The requests of a JSON batch, validated one at a time as the pipeline pulls them. */
export async function* fromArray(requests: unknown[], check?: RequestCheck): AsyncGenerator<BatchInput<CaptionGenerationRequest>> {
  for (let i = 0; i < requests.length; i++) yield toBatchInput(requests[i], i, check);
}

/**
 * The requests of an NDJSON upload, one a line, validated as they arrive. A line whose
 * `request_id` repeats an earlier line's is a failed item (the earlier line already ran).
 */
export async function* fromNdjson(lines: AsyncIterable<NdjsonLine>, check?: RequestCheck): AsyncGenerator<BatchInput<CaptionGenerationRequest>> {
  const seen = new Map<string, number>();
  for await (const line of lines) {
    if ('error' in line) {
      yield { index: line.index, request_id: null, error: line.error };
      continue;
    }
    const input = toBatchInput(line.value, line.index, check);
    // Only ids the client gave can repeat; made-up ones are not held.
    if ('request' in input && givenId(line.value) !== undefined) {
      const first = seen.get(input.request_id);
      if (first !== undefined) {
        const message = `duplicates the request_id of line ${first + 1}`;
        yield { index: line.index, request_id: input.request_id, error: { code: 'validation_failed', message: `request_id ${message}`, details: [{ field: 'request_id', message }] } };
        continue;
      }
      seen.set(input.request_id, line.index);
    }
    yield input;
  }
}
