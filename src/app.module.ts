import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { BatchModule } from './batch/batch.module.js';
import { CaptionsModule } from './captions/captions.module.js';
import { KeyedCacheModule } from './common/cache/keyed-cache.module.js';
import { ApiExceptionFilter } from './common/errors/api-exception.filter.js';
import { BodyMediaTypeGuard } from './common/http/body-media-type.guard.js';
import { SanitizeInputPipe } from './common/http/sanitize-input.pipe.js';
import { createValidationPipe } from './common/http/validation.js';
import { LoggingModule } from './common/logging.module.js';
import { SecurityModule } from './common/security/security.module.js';
import { throttlerOptions } from './common/security/throttling.js';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { HistoryModule } from './history/history.module.js';
import { LazyLoaderModule } from './lazy-loader/lazy-loader.module.js';
import { MonitoringModule } from './monitoring/monitoring.module.js';

/** The service: built from one validated configuration (see `loadConfig`). */
@Module({})
export class AppModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        SecurityModule,
        ThrottlerModule.forRootAsync({ inject: [AppConfig], useFactory: throttlerOptions }),
        KeyedCacheModule,
        ScheduleModule.forRoot(),
        LazyLoaderModule.forRoot(),
        CaptionsModule,
        HistoryModule,
        BatchModule,
        MonitoringModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        // Guards run in order: refuse a client over its rate before anything else.
        { provide: APP_GUARD, useClass: ThrottlerGuard },
        { provide: APP_GUARD, useClass: BodyMediaTypeGuard },
        // Pipes run in order: trim and bound the input, then validate it.
        { provide: APP_PIPE, useClass: SanitizeInputPipe },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}
