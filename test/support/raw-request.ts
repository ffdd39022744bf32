import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyServerTimeouts } from '../../src/app/app.setup.js';
import { AppConfig } from '../../src/config/app-config.js';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: unknown;
}

/**
 * Sends bytes exactly as given (supertest re-serialises a Buffer sent as JSON), to a server that
 * listens (`listening(server)`). For compressed bodies, bad UTF-8 and other raw inputs.
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: OutgoingHttpHeaders,
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = undefined;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: left undefined
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Makes the app's server listen on an ephemeral port with the production server settings
 * (timeouts, parser error answers); returns the port.
 */
export async function listening(app: INestApplication): Promise<number> {
  const server = app.getHttpServer() as Server;
  if (!server.listening) {
    applyServerTimeouts(server, app.get(AppConfig));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  }
  return (server.address() as AddressInfo).port;
}
