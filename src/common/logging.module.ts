import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config.js';

/**
 * JSON logs through nestjs-pino: one line per request with its id, latency and status, and the
 * request id bound to every line logged while serving it (AsyncLocalStorage). Chosen over Nest's
 * JSON ConsoleLogger because that one has no per-request context.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          // The id was set by requestIdMiddleware, which runs first.
          genReqId: (req: IncomingMessage) => String((req as IncomingMessage & { id?: unknown }).id),
          quietReqLogger: true,
          customAttributeKeys: { reqId: 'request_id' },
          autoLogging: { ignore: (req: IncomingMessage) => req.url?.endsWith('/health/live') ?? false },
          redact: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'],
        },
      }),
    }),
  ],
})
export class LoggingModule {}
