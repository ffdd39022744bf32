import { RequestMethod } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import type { Server } from 'node:http';
import { Logger } from 'nestjs-pino';
import { bodyErrorHandler, jsonBodyParser } from './common/http/body-parsing.js';
import { requestIdMiddleware } from './common/http/request-id.js';
import { AppConfig } from './config/app-config.js';

export const API_PREFIX = 'api/v14/lazy';

/**
 * Everything about the HTTP edge that is not a provider: shared by `main.ts` and the e2e tests,
 * so tests exercise the same stack as production. Call before `init()`/`listen()`.
 * The app must be created with `{ bodyParser: false }`: the parser is installed here, after the
 * request id, so even a malformed body gets an id and the contract's error body.
 */
export function configureApp(app: NestExpressApplication): NestExpressApplication {
  const config = app.get(AppConfig);
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.use(requestIdMiddleware);
  app.use(helmet());
  app.use(jsonBodyParser(config.server.bodyLimitBytes));
  app.use(bodyErrorHandler);
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'metrics', method: RequestMethod.GET },
      { path: 'docs', method: RequestMethod.GET },
      { path: 'openapi.json', method: RequestMethod.GET },
    ],
  });
  app.enableShutdownHooks();
  return app;
}

/** Timeouts against slow clients (slowloris): headers must arrive quickly, a whole request in bounded time. */
export function applyServerTimeouts(server: Server, config: AppConfig): void {
  server.headersTimeout = config.server.headersTimeoutMs;
  server.requestTimeout = config.server.requestTimeoutMs;
  server.keepAliveTimeout = config.server.keepAliveTimeoutMs;
}
