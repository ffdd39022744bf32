import { Global, Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module.js';
import { RateLimiter } from './rate-limit/rate-limiter.js';
import { RequestAuth } from './request-auth.js';

/** The HTTP edge's knowledge of callers and their rate limits, for every module. */
@Global()
@Module({
  imports: [RedisModule],
  providers: [RequestAuth, RateLimiter],
  exports: [RequestAuth, RateLimiter],
})
export class SecurityModule {}
