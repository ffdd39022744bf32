import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../common/errors/api-error.js';
import { errorBody, mapError } from '../common/errors/error-body.js';
import { metricsRegistry } from '../common/metrics/metrics.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsAccess } from './metrics-access.js';

/**
 * `GET /metrics` on a port of its own (`METRICS_PORT`), so the scrape target can stay inside the
 * cluster while the API is exposed. The same access rules as on the main port; nothing else is
 * served there. Listens when the app starts, closes when it shuts down.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('MetricsServer');
  private server?: Server;

  constructor(
    private readonly config: AppConfig,
    private readonly access: MetricsAccess,
  ) {}

  /** The port it listens on, once listening. */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.monitoring.metricsPort;
    if (port === undefined) return;
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.config.server.host, () => resolve());
    });
    this.server = server;
    this.logger.log(`Serving /metrics on port ${port}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') throw new ApiError(404, 'not_found', `Cannot ${req.method} ${path}`);
      const level = this.access.decide(req);
      if (level === 'denied') throw MetricsAccess.unauthorized();
      const text = await this.access.render(level);
      res.writeHead(200, { 'Content-Type': metricsRegistry.contentType, 'Cache-Control': 'no-store' }).end(text);
    } catch (err) {
      const mapped = mapError(err);
      if (mapped.unexpected) this.logger.error({ err }, 'Metrics request failed');
      const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8', ...(err instanceof ApiError ? err.headers : {}) };
      res.writeHead(mapped.status, headers).end(JSON.stringify(errorBody(mapped, randomUUID())));
    }
  }
}
