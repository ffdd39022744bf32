import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import type { Server } from 'node:http';
import { Logger } from 'nestjs-pino';
import { API_PREFIX, LIVENESS_PATH, METRICS_PATH, PROBE_PATHS, PUBLIC_PATHS, ROOT_ROUTES } from './app.routes.js';
import { bodyErrorHandler, jsonBodyParser } from '../common/http/body-parsing.js';
import { requestIdMiddleware } from '../common/http/request-id.js';
import { httpMetricsMiddleware } from '../common/metrics/http-metrics.middleware.js';
import { apiKeyMiddleware } from '../common/security/api-key.middleware.js';
import { installClientErrorHandler } from '../common/security/client-errors.js';
import { corsOptions } from '../common/security/cors.js';
import { RateLimiter } from '../common/security/rate-limit/rate-limiter.js';
import { AppConfig, ConfigError } from '../config/app-config.js';
import { buildOpenApiDocument } from './openapi.js';
import { ShutdownState, shutdownGateMiddleware } from '../common/lifecycle/shutdown-state.js';
import { findUiDirectory, loadUiBundle, uiMiddleware } from './web-ui.js';

export { API_PREFIX } from './app.routes.js';

/**
 * Everything about the HTTP edge that is not a provider: shared by `main.ts` and the e2e tests,
 * so tests exercise the same stack as production. Call before `init()`/`listen()`.
 * The app must be created with `{ bodyParser: false }`: the parser is installed here, after the
 * request id, so even a malformed body gets an id and the contract's error body.
 *
 * Order: timing first (so refused requests are timed too), the request id, the shutdown gate,
 * CORS (a preflight carries no credentials), security headers, the rate limit (every request
 * pays a unit at the door, so 401, 404, 400 and 413 answers count, and failed authentications are
 * seen), the browser client's static files (public: the page asks for a key itself, with its own
 * stricter Content-Security-Policy), API keys (before the body is read), then the body parser. A route's cost beyond the
 * first unit is charged by a guard, after routing.
 */
export function configureApp(app: NestExpressApplication): NestExpressApplication {
  const config = app.get(AppConfig);
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  // No ETag: Express would hash every JSON body to make one, and these answers are dynamic
  // (`no-store` where it matters); no client of the contract sends If-None-Match.
  app.set('etag', false);
  // Which hops' X-Forwarded-For names the client (req.ip), for the rate limit and the logs.
  app.set('trust proxy', config.security.trustProxy);
  app.use(httpMetricsMiddleware);
  app.use(requestIdMiddleware);
  app.use(shutdownGateMiddleware(app.get(ShutdownState), [LIVENESS_PATH]));
  const cors = corsOptions(config.security.corsOrigins);
  if (cors) app.enableCors(cors);
  app.use(helmet());
  const limit = app.get(RateLimiter).middleware({ exempt: PROBE_PATHS, unmetered: [METRICS_PATH] });
  if (limit) app.use(limit);
  if (config.ui.enabled) {
    const dir = findUiDirectory();
    if (!dir) throw new ConfigError(['UI_ENABLED=true: the browser client\'s files (ui/index.html) are not beside the build; run `npm run build`, or set UI_ENABLED=false']);
    app.use(uiMiddleware(loadUiBundle(dir, { authRequired: config.security.apiKeys.length > 0 })));
  }
  const auth = apiKeyMiddleware(config.security.apiKeys, PUBLIC_PATHS);
  if (auth) app.use(auth);
  app.use(jsonBodyParser(config.server.bodyLimitBytes));
  app.use(bodyErrorHandler);
  setGlobalPrefix(app);
  // Built on first request, from the routes as registered. The document is always served; the UI
  // at /docs only when SWAGGER_ENABLED (off in production by default).
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app, config), {
    jsonDocumentUrl: 'openapi.json',
    raw: ['json'],
    swaggerUiEnabled: config.monitoring.swaggerEnabled,
    customSiteTitle: 'Instagram Captions API',
  });
  return app;
}

/** The base path, with the root routes left out of it. */
export function setGlobalPrefix(app: NestExpressApplication): void {
  app.setGlobalPrefix(API_PREFIX, { exclude: ROOT_ROUTES });
}

/**
 * Timeouts against slow clients (slowloris): headers must arrive quickly, a whole request in
 * bounded time. Requests the parser rejects (too large, too slow, not HTTP) get the error body.
 */
export function applyServerTimeouts(server: Server, config: AppConfig): void {
  server.headersTimeout = config.server.headersTimeoutMs;
  server.requestTimeout = config.server.requestTimeoutMs;
  server.keepAliveTimeout = config.server.keepAliveTimeoutMs;
  installClientErrorHandler(server);
}
