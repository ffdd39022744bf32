import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

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
