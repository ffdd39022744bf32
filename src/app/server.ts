import type { DynamicModule, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { applyServerTimeouts, configureApp } from './app.setup.js';
import { settleAfterBoot } from './boot-memory.js';
import type { AppConfig } from '../config/app-config.js';
import { GracefulShutdown } from './graceful-shutdown.js';

/**
 * Creates the app from `rootModule` (the `AppModule`, or a test module around it), installs the
 * HTTP edge, the slow-client timeouts and the graceful shutdown on SIGTERM/SIGINT, and listens;
 * a few seconds later the boot's young generation is given back (see {@link settleAfterBoot}).
 */
export async function startServer(rootModule: DynamicModule | Type, config: AppConfig): Promise<NestExpressApplication> {
  // abortOnError off: a provider that cannot start (a refused path, a database that does not
  // answer) is thrown to the caller, which exits with its message, instead of process.abort().
  const app = await NestFactory.create<NestExpressApplication>(rootModule, { bufferLogs: true, bodyParser: false, abortOnError: false });
  configureApp(app);
  const server = app.getHttpServer();
  applyServerTimeouts(server, config);
  new GracefulShutdown(app, server, { delayMs: config.shutdown.delayMs, graceMs: config.shutdown.graceMs }).install();
  await app.listen(config.server.port, config.server.host);
  settleAfterBoot();
  return app;
}
