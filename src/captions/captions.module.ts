import { Module } from '@nestjs/common';
import { HistoryModule } from '../history/history.module.js';
import { CaptionsController } from './captions.controller.js';
import { CaptionsService } from './captions.service.js';
import { CaptionEngine } from './engine/caption-engine.js';
import { TemplateCaptionEngine } from './engine/template-caption.engine.js';
import { LazyLoaderModule } from '../lazy-loader/lazy-loader.module.js';

/** Captions: the engine port (template engine by default), the service, and their routes. */
@Module({
  imports: [LazyLoaderModule, HistoryModule],
  controllers: [CaptionsController],
  providers: [CaptionsService, { provide: CaptionEngine, useClass: TemplateCaptionEngine }],
  exports: [CaptionsService],
})
export class CaptionsModule {}
