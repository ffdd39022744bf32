import { Module } from '@nestjs/common';

/** Captions: wired now so the shape of the service is visible; its routes land with their issue. */
@Module({})
export class CaptionsModule {}
