import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import { ApiKeyVerifier, presentedKey } from '../common/security/api-key.middleware.js';
import { ApiError } from '../common/errors/api-error.js';
import { metricsRegistry } from '../common/metrics/metrics.js';
import { AppConfig } from '../config/app-config.js';

/** Who may read `/metrics`, and how much. */
export type MetricsAccessLevel = 'full' | 'public' | 'denied';

/** prom-client's default metric that names the Node.js runtime version. */
const RUNTIME_VERSION_METRIC = 'nodejs_version_info';

/**
 * The rules of `/metrics`, on the main port or its own:
 * - with `METRICS_TOKEN` or `API_KEYS` configured, a request needs `Authorization: Bearer <token>`
 *   (or `X-API-Key`) with the metrics token or a valid API key; else 401;
 * - with neither, `/metrics` is open, but only a request that proved who it is sees the runtime
 *   version, so an open `/metrics` never names it.
 */
@Injectable()
export class MetricsAccess {
  private readonly token: ApiKeyVerifier;
  private readonly keys: ApiKeyVerifier;

  constructor(config: AppConfig) {
    this.token = new ApiKeyVerifier(config.monitoring.metricsToken ? [config.monitoring.metricsToken] : []);
    this.keys = new ApiKeyVerifier(config.security.apiKeys);
  }

  /** 401 `unauthorized` asking for the token. */
  static unauthorized(): ApiError {
    return new ApiError(401, 'unauthorized', 'Metrics need Authorization: Bearer <METRICS_TOKEN> or an API key', undefined, {
      'WWW-Authenticate': 'Bearer realm="metrics"',
    });
  }

  decide(req: IncomingMessage): MetricsAccessLevel {
    const presented = presentedKey(req as Request);
    if (this.token.verify(presented) || this.keys.verify(presented)) return 'full';
    return this.token.enabled || this.keys.enabled ? 'denied' : 'public';
  }

  /** The exposition text for `level` ('full' or 'public'). */
  async render(level: Exclude<MetricsAccessLevel, 'denied'>): Promise<string> {
    // prom-client writes a NaN sample (an event-loop-lag mean before any sample) as `Nan`, which
    // strict OpenMetrics and Prometheus text parsers refuse; the formats spell it `NaN`.
    const text = (await metricsRegistry.metrics()).replace(/ Nan$/gm, ' NaN');
    if (level === 'full') return text;
    return text
      .split('\n')
      .filter((line) => !line.startsWith(RUNTIME_VERSION_METRIC) && !line.startsWith(`# HELP ${RUNTIME_VERSION_METRIC} `) && !line.startsWith(`# TYPE ${RUNTIME_VERSION_METRIC} `))
      .join('\n');
  }
}
