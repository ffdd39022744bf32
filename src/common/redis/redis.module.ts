import { Global, Module } from '@nestjs/common';
import { RedisConnection } from './redis-connection.js';

/** The shared Redis connection ({@link RedisConnection}), injectable everywhere. */
@Global()
@Module({ providers: [RedisConnection], exports: [RedisConnection] })
export class RedisModule {}
