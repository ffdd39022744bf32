import { Module } from '@nestjs/common';

/** History: wired now so the shape of the service is visible; its routes land with their issue. */
@Module({})
export class HistoryModule {}
