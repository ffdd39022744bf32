import { once } from 'node:events';
import { get, type ClientRequest, type IncomingMessage } from 'node:http';

export interface OpenedExport {
  status: number;
  req: ClientRequest;
  res: IncomingMessage;
  /** The parsed error body when the status is not 200 (read whole); undefined for a 200. */
  body?: { error: string; message: string; request_id: string; timestamp: number };
}

/**
 * Starts `GET /caption-history/export` and reads nothing of a 200 after its headers: the server's
 * writes back up into socket buffers and then wait for `drain`, as with a client that stalled.
 * An error answer is read whole. `localAddress` picks the client's address (any of 127.0.0.0/8).
 */
export async function openExport(
  port: number,
  opts: { localAddress?: string; headers?: Record<string, string>; query?: string } = {},
): Promise<OpenedExport> {
  const req = get({
    host: '127.0.0.1',
    port,
    path: `/api/v14/lazy/caption-history/export?${opts.query ?? 'format=ndjson'}`,
    localAddress: opts.localAddress,
    headers: { 'accept-encoding': 'identity', ...opts.headers },
  });
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  // A connection the server cuts (or the test drops) ends the body with an error: expected here.
  req.on('error', () => undefined);
  res.on('error', () => undefined);
  const status = res.statusCode ?? 0;
  if (status === 200) return { status, req, res };
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status, req, res, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
}

/** Rejects when `promise` has not settled after `ms`: a bound on a wait that would otherwise hang the suite. */
export function orFailAfter<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (nothing after ${ms} ms)`)), ms);
  });
  return Promise.race([promise, failure]).finally(() => clearTimeout(timer));
}
