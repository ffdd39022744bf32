import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Server } from 'node:http';
import { AppModule } from './app.module.js';
import { applyServerTimeouts, configureApp } from './app.setup.js';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { GracefulShutdown } from './monitoring/graceful-shutdown.js';

function configOrExit(): AppConfig {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function bootstrap(): Promise<void> {
  const config = configOrExit();
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), {
    bufferLogs: true,
    bodyParser: false,
  });
  configureApp(app);
  const server = app.getHttpServer() as Server;
  applyServerTimeouts(server, config);
  new GracefulShutdown(app, server, { delayMs: config.shutdown.delayMs, graceMs: config.shutdown.graceMs }).install();
  await app.listen(config.server.port, config.server.host);
}

await bootstrap();
