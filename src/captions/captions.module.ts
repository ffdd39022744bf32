import { Module, type Provider } from '@nestjs/common';
import { AppConfig, ConfigError } from '../config/app-config.js';
import { HistoryModule } from '../history/history.module.js';
import { CaptionsController } from './captions.controller.js';
import { CaptionsService } from './captions.service.js';
import { CaptionEngine } from './engine/caption-engine.js';
import { TemplateCaptionEngine } from './engine/template-caption.engine.js';
import { LazyLoaderModule } from '../lazy-loader/lazy-loader.module.js';

/** The template engine with the configured hashtag blocklist; a blocklist it cannot work with stops the start. */
const captionEngine: Provider = {
  provide: CaptionEngine,
  inject: [AppConfig],
  useFactory: (config: AppConfig): CaptionEngine => {
    const { hashtagBlocklist, hashtagLimit } = config.captions;
    try {
      return new TemplateCaptionEngine({ hashtagBlocklist, maxHashtags: hashtagLimit });
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      throw new ConfigError([`HASHTAG_BLOCKLIST: ${err.message} (HASHTAG_LIMIT=${hashtagLimit}); block fewer tags or lower HASHTAG_LIMIT`]);
    }
  },
};

/** Captions: the engine port (template engine by default), the service, and their routes. */
@Module({
  imports: [LazyLoaderModule, HistoryModule],
  controllers: [CaptionsController],
  providers: [CaptionsService, captionEngine],
  exports: [CaptionsService],
})
export class CaptionsModule {}
