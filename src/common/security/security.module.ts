import { Global, Module } from '@nestjs/common';
import { RequestAuth } from './request-auth.js';

/** The HTTP edge's knowledge of callers, for every module. */
@Global()
@Module({
  providers: [RequestAuth],
  exports: [RequestAuth],
})
export class SecurityModule {}
