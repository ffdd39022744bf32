import { setTimeout as sleep } from 'node:timers/promises';

/** The batch jobs routes. */
export const BATCHES = '/api/v14/lazy/batches';

/** `n` valid batch job requests, custom ids `item-<i>` (offset by `from`), `extra` merged into each. */
export function jobRequests(n: number, extra: Record<string, unknown> = {}, from = 0): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `item-${from + i}`,
    content_description: `A sunny afternoon at the beach number ${from + i}`,
    variation_count: 1,
    ...extra,
  }));
}

/** The same requests as an NDJSON upload. */
export function ndjson(requests: ReadonlyArray<unknown>): string {
  return requests.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
}

/**
 * Polls `read` until `done` holds for its value or `timeoutMs` passes (then throws with the last
 * value): a condition with a deadline, never a fixed wait.
 */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(last).slice(0, 500)}`);
    await sleep(everyMs);
    last = await read();
  }
  return last;
}

/** A results line as a spec reads it (every variant's fields optional). */
export interface ResultLineJson {
  custom_id: string | null;
  result: {
    type: 'succeeded' | 'errored' | 'canceled' | 'expired';
    response: { request_id: string; variations: unknown[] };
    error: { error: string; message: string; details?: unknown[]; request_id?: string; timestamp: number };
  };
}

/** NDJSON text into its lines' values. */
export function parseNdjson<T = ResultLineJson>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
