import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './generated/api.js';
import type { StreamItems, UploadItems } from './generated/streams.js';

export type { components, operations, paths } from './generated/api.js';
export type { StreamItems, UploadItems } from './generated/streams.js';

/** The API's schemas by name (`Schemas['CaptionGenerationRequest']`). */
export type Schemas = components['schemas'];

/** One item of a streamed response: `ItemOf<'streamCaptions', 'application/x-ndjson'>`. */
export type ItemOf<Op extends keyof StreamItems, Media extends keyof StreamItems[Op]> = StreamItems[Op][Media];

/** The error item a stream ends with when it fails after its first byte. */
export type StreamError = Schemas['StreamError'];

export type CaptionsClient = Client<paths>;

export interface CaptionsClientOptions extends ClientOptions {
  /** Sent as `X-API-Key` (needed when the server has API keys configured). */
  apiKey?: string;
}

/**
 * A typed client for every route (openapi-fetch): paths, parameters, bodies and JSON responses
 * are checked by the compiler against the API's OpenAPI document.
 */
export function createCaptionsClient(options: CaptionsClientOptions = {}): CaptionsClient {
  const { apiKey, headers, ...rest } = options;
  return createClient<paths>({ ...rest, headers: { ...(apiKey ? { 'X-API-Key': apiKey } : {}), ...(headers as Record<string, string> | undefined) } });
}

/** Lines of a byte stream, decoded as UTF-8, without their line ends; the last one even without a newline. */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n')) !== -1) {
        yield buffered.slice(0, end).replace(/\r$/, '');
        buffered = buffered.slice(end + 1);
      }
    }
    buffered += decoder.decode();
    if (buffered !== '') yield buffered.replace(/\r$/, '');
  } finally {
    reader.releaseLock();
  }
}

/**
 * The items of an NDJSON body as they arrive (use openapi-fetch's `parseAs: 'stream'`):
 * `for await (const item of ndjsonItems<ItemOf<'streamCaptions', 'application/x-ndjson'>>(res.response))`.
 * The last item is a {@link StreamError} when the stream failed after its first byte.
 */
export async function* ndjsonItems<T>(response: Response): AsyncGenerator<T> {
  if (!response.body) return;
  for await (const line of lines(response.body)) if (line.trim() !== '') yield JSON.parse(line) as T;
}

/** A server-sent event as the document describes it: its name and its JSON data. */
export interface SseEvent {
  event: string;
  data: unknown;
  id?: string;
}

/**
 * The events of a `text/event-stream` body as they arrive, each `{event, data, id?}` with `data`
 * parsed as JSON: `for await (const e of sseEvents<ItemOf<'streamCaptions', 'text/event-stream'>>(res.response))`,
 * then narrow on `e.event` (`variation`, `done`, `error`…).
 */
export async function* sseEvents<T extends SseEvent = SseEvent>(response: Response): AsyncGenerator<T> {
  if (!response.body) return;
  let event = 'message';
  let id: string | undefined;
  let data: string[] = [];
  for await (const line of lines(response.body)) {
    if (line === '') {
      if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) as unknown, ...(id === undefined ? {} : { id }) } as T;
      event = 'message';
      id = undefined;
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) as unknown, ...(id === undefined ? {} : { id }) } as T;
}

/** An NDJSON upload body from items (one JSON object a line), for `bodySerializer`. */
export function toNdjson<Op extends keyof UploadItems>(items: Iterable<UploadItems[Op]['application/x-ndjson']>): string {
  let out = '';
  for (const item of items) out += `${JSON.stringify(item)}\n`;
  return out;
}
