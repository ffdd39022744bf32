import { Module } from '@nestjs/common';

/** Batch: wired now so the shape of the service is visible; its routes land with their issue. */
@Module({})
export class BatchModule {}
