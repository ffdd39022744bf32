import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { BatchModule } from './batch/batch.module.js';
import { CaptionsModule } from './captions/captions.module.js';
import { KeyedCacheModule } from './common/cache/keyed-cache.module.js';
import { ApiExceptionFilter } from './common/errors/api-exception.filter.js';
import { BodyMediaTypeGuard } from './common/http/body-media-type.guard.js';
import { SanitizeInputPipe } from './common/http/sanitize-input.pipe.js';
import { createValidationPipe } from './common/http/validation.js';
import { LoggingModule } from './common/logging.module.js';
import { RedisModule } from './common/redis/redis.module.js';
import { SecurityModule } from './common/security/security.module.js';
import { RateCostGuard } from './common/security/rate-limit/rate-cost.guard.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { HistoryModule } from './history/history.module.js';
import { JobsModule } from './jobs/jobs.module.js';
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
        RedisModule,
        SecurityModule,
        KeyedCacheModule,
        ScheduleModule.forRoot(),
        CaptionsModule,
        HistoryModule,
        BatchModule,
        JobsModule,
        MonitoringModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        // Guards run in order: charge a route's cost to its client before anything else (every
        // request already paid one unit at the door, in the rate limiter's middleware).
        { provide: APP_GUARD, useClass: RateCostGuard },
        { provide: APP_GUARD, useClass: BodyMediaTypeGuard },
        // Pipes run in order: trim and bound the input, then validate it.
        { provide: APP_PIPE, useClass: SanitizeInputPipe },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}
