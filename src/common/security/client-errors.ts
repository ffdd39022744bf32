import { Logger } from '@nestjs/common';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientClosedRequests } from '../metrics/metrics.js';

/**
 * The client closed its connection before its request was answered (an upload aborted midway):
 * nothing can be sent back, and nothing went wrong on the server's side.
 */
export class ClientClosedError extends Error {
  readonly code = 'client_closed';

  constructor(message = 'The client closed the connection before the request was answered') {
    super(message);
    this.name = 'ClientClosedError';
  }
}

const logger = new Logger('ClientClosed');

/**
 * Records a request whose client left before it was answered: counted in
 * `http_requests_client_closed_total` and logged at debug level, without a stack (it is not a
 * fault of the server, and a busy service sees many).
 */
export function recordClientClosed(req: Request): void {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  const labels = { method: req.method, route: typeof route === 'string' ? route : 'unmatched' };
  clientClosedRequests.inc(labels);
  logger.debug(labels, 'The client closed the connection before the request was answered');
}

/** What Node's HTTP parser rejects before any middleware runs, and how we answer it. */
function answerFor(code: string | undefined): { status: number; reason: string; error: string; message: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', error: 'headers_too_large', message: 'The request line and headers exceed the size limit' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', error: 'request_timeout', message: 'The request was not received in time' };
    default:
      return { status: 400, reason: 'Bad Request', error: 'malformed_request', message: 'The request is not valid HTTP' };
  }
}

/**
 * Node's parser answers a request it cannot read (headers over `maxHeaderSize`, a slow client past
 * `headersTimeout`/`requestTimeout`, bad framing) with a bare status line and no body. This gives
 * those answers the contract's error body too, then closes the connection (it cannot be reused).
 */
export function installClientErrorHandler(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, reason, error, message } = answerFor(err.code);
    const requestId = randomUUID();
    const body = JSON.stringify({ error, message, request_id: requestId, timestamp: Date.now() / 1000 });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
