import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';

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

/** JSON over fetch (the cluster specs talk to a proxy URL, not an app). */
export async function api(
  base: string,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a spec reads whichever fields it checks
): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    // NDJSON or empty.
  }
  return { status: res.status, body, text };
}

/**
 * Every custom_id `item-0` … `item-<n-1>` has exactly one result line, in input order; none is
 * left without an end; a failed item carries an error with a reason.
 */
export function expectEachOnce(lines: ResultLineJson[], n: number): void {
  expect(lines.map((l) => l.custom_id)).toEqual(Array.from({ length: n }, (_, i) => `item-${i}`));
  for (const l of lines) {
    if (l.result.type === 'errored') expect(l.result.error.message.length).toBeGreaterThan(0);
    else expect(l.result.type).toBe('succeeded');
  }
}
