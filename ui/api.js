// The one way this page talks to the service: plain fetch against the public HTTP API, with the
// API key (when one is set) sent as X-API-Key on every call.

const KEY_STORAGE = 'captions-api-key';

/** The API's base path, put into the page by the server. */
export const API = document.querySelector('meta[name="api-base"]')?.getAttribute('content') ?? '/api/v14/lazy';

/** The server says whether its API wants a key (API_KEYS set). */
export const AUTH_REQUIRED = document.querySelector('meta[name="api-auth"]')?.getAttribute('content') === 'true';

const keyListeners = new Set();

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? '';
}

/** True while the API wants a key and none is set: views then wait instead of calling. */
export function needsKey() {
  return AUTH_REQUIRED && !apiKey();
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  for (const listener of keyListeners) listener(key);
}

/** Called with the new key (or '') whenever it changes. */
export function onKeyChange(listener) {
  keyListeners.add(listener);
}

const unauthorizedListeners = new Set();
/** Called whenever the service answers 401 (no key, or a wrong one). */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
}

/** An error answer of the API, with the contract's body (`error`, `message`, `details`). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error ?? 'http_error';
    this.details = Array.isArray(body?.details) ? body.details : [];
  }
}

function withKey(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, 'X-API-Key': key } : headers;
}

/** `fetch` of an API path (relative to the base, or absolute from the root) with the key; throws an {@link ApiError} unless 2xx. */
export async function request(path, init = {}) {
  const url = path.startsWith('/') && !path.startsWith(API) && !path.startsWith('/openapi.json') ? `${API}${path}` : path;
  const res = await fetch(url, { ...init, headers: withKey(init.headers) });
  if (!res.ok) {
    let body;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (res.status === 401) for (const listener of unauthorizedListeners) listener();
    throw new ApiError(res.status, body);
  }
  return res;
}

export async function getJson(path, init) {
  return (await request(path, init)).json();
}

/** The lines of a body as they arrive (NDJSON), each parsed. */
export async function* ndjsonItems(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
  buffer += decoder.decode();
  if (buffer.trim()) yield JSON.parse(buffer);
}

/**
 * Server-sent events read from a fetch body (EventSource cannot send the key header): yields
 * `{event, data}` for each event, `data` parsed as JSON.
 */
export async function* sseEvents(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = text;
        else if (field === 'data') data.push(text);
      }
      if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) };
    }
  }
}

/**
 * Points `link` at an API download. Without a key the browser follows the link itself (streamed
 * to disk); with one, a click fetches it with the key and saves the body.
 */
export function downloadLink(link, path, filename, onError) {
  link.href = `${API}${path}`;
  link.download = filename;
  link.onclick = async (event) => {
    if (!apiKey()) return;
    event.preventDefault();
    try {
      const res = await request(path);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = filename;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      onError?.(err);
    }
  };
}
