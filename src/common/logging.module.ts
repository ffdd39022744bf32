import { Module, RequestMethod } from '@nestjs/common';
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
        // Liveness is never logged: skip the request logger for it altogether (not only its line),
        // since the per-request child logger and context cost a third of a probe's throughput.
        exclude: [{ path: 'health/live', method: RequestMethod.GET }],
        pinoHttp: {
          level: config.logLevel,
          // The id was set by requestIdMiddleware, which runs first.
          genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id: string }).id,
          quietReqLogger: true,
          customAttributeKeys: { reqId: 'request_id' },
          redact: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'],
        },
      }),
    }),
  ],
})
export class LoggingModule {}
