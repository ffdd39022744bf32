import type { RequestCheck } from '../batch/batch-requests.js';
import { toBatchInput } from '../batch/batch-requests.js';
import type { NdjsonLine } from '../batch/ndjson-body.reader.js';
import type { ItemError, NewItem } from './jobs.types.js';

/** A caller's id for an item: 1–64 of A-Z, a-z, 0-9, `_`, `.`, `:` or `-`. */
export const CUSTOM_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** One input of a batch, as read: a parsed value, or why the line could not be read. */
export type RawInput = { idx: number; value: unknown } | { idx: number; error: { code: string; message: string } };

/**
 * Turns one input into the item intake stores: its custom_id and validated request, or, for an
 * input that is not a valid caption request (or has no valid custom_id), an item that ends
 * `errored` with the contract's error body. `requestId` is the creating request's id, carried by
 * every error body.
 */
export function toNewItem(input: RawInput, check: RequestCheck, requestId: string): NewItem {
  const fail = (code: string, message: string, details?: ItemError['details'], customId: string | null = null): NewItem => ({
    idx: input.idx,
    custom_id: customId,
    request: null,
    error: { error: code, message, ...(details?.length ? { details } : {}), request_id: requestId, timestamp: Date.now() / 1000 },
  });
  if ('error' in input) return fail(input.error.code, input.error.message);
  const raw = input.value;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('validation_failed', 'a batch request must be a JSON object');
  const { custom_id: customId, ...fields } = raw as Record<string, unknown>;
  if (typeof customId !== 'string' || !CUSTOM_ID.test(customId)) {
    const message = 'must be 1–64 characters of A-Z, a-z, 0-9, _, ., : or -';
    return fail('validation_failed', `custom_id ${message}`, [{ field: 'custom_id', message }]);
  }
  const parsed = toBatchInput(fields, input.idx, check);
  if ('error' in parsed) return fail(parsed.error.code, parsed.error.message, parsed.error.details, customId);
  return { idx: input.idx, custom_id: customId, request: JSON.stringify(parsed.request) };
}

/** The elements of a JSON body's `requests`, as inputs. */
export async function* fromRequestsArray(requests: readonly unknown[]): AsyncGenerator<RawInput> {
  for (let idx = 0; idx < requests.length; idx++) yield { idx, value: requests[idx] };
}

/**
 * The lines of an NDJSON upload, as inputs numbered by their position among the non-blank lines
 * (the results come back in this order, one per input).
 */
export async function* fromUploadLines(lines: AsyncIterable<NdjsonLine>): AsyncGenerator<RawInput> {
  let idx = 0;
  for await (const line of lines) {
    yield 'error' in line ? { idx: idx++, error: line.error } : { idx: idx++, value: line.value };
  }
}
