import { Module, type Provider } from '@nestjs/common';
import { AppConfig, ConfigError } from '../config/app-config.js';
import { HistoryModule } from '../history/history.module.js';
import { CaptionsController } from './captions.controller.js';
import { CaptionsService } from './captions.service.js';
import { CaptionEngine } from './engine/caption-engine.js';
import { CaptionEngineSelection } from './engine/engine-selection.js';
import { PooledCaptionEngine } from './engine/drafting/pooled-caption.engine.js';
import { TemplateCaptionEngine } from './engine/template-caption.engine.js';
import { LazyLoaderModule } from '../lazy-loader/lazy-loader.module.js';

/** The offline (template) engine with the configured hashtag blocklist; a blocklist it cannot work with stops the start. */
const offlineEngine: Provider = {
  provide: TemplateCaptionEngine,
  inject: [AppConfig],
  useFactory: (config: AppConfig): TemplateCaptionEngine => {
    const { hashtagBlocklist, hashtagLimit } = config.captions;
    try {
      return new TemplateCaptionEngine({ hashtagBlocklist, maxHashtags: hashtagLimit });
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      throw new ConfigError([`HASHTAG_BLOCKLIST: ${err.message} (HASHTAG_LIMIT=${hashtagLimit}); block fewer tags or lower HASHTAG_LIMIT`]);
    }
  },
};

/**
 * `CAPTION_ENGINE`: the LLM engine (falling back to the offline one) when selected and configured.
 * The offline engine drafts on `CAPTION_WORKERS` threads (none: on the event loop).
 */
const engineSelection: Provider = {
  provide: CaptionEngineSelection,
  inject: [AppConfig, TemplateCaptionEngine],
  useFactory: async (config: AppConfig, template: TemplateCaptionEngine): Promise<CaptionEngineSelection> => {
    const { llm } = config;
    const { workers, workerIdleMs, queueBudgetMs, hashtagBlocklist, hashtagLimit } = config.captions;
    const offline =
      workers > 0
        ? new PooledCaptionEngine(template, { threads: workers, idleTimeoutMs: workerIdleMs, queueBudgetMs, engine: { hashtagBlocklist, maxHashtags: hashtagLimit } })
        : template;
    const configured = llm.baseUrl !== undefined && llm.model !== undefined;
    const useLlm = configured && llm.engine !== 'template';
    // The LLM engine (and its HTTP client and circuit breaker libraries) is imported only when it
    // is used: a service on the offline engine never holds their code.
    const LlmCaptionEngine = useLlm ? (await import('./engine/llm/llm-caption.engine.js')).LlmCaptionEngine : undefined;
    const engine = LlmCaptionEngine
      ? new LlmCaptionEngine({
          ...llm,
          baseUrl: llm.baseUrl!,
          model: llm.model!,
          hashtagBlocklist: config.captions.hashtagBlocklist,
          maxHashtags: config.captions.hashtagLimit,
          fallback: offline,
        })
      : undefined;
    return new CaptionEngineSelection(offline, engine, configured);
  },
};

/** The port's token: the engine requests go to when nothing goes wrong. */
const primaryEngine: Provider = { provide: CaptionEngine, inject: [CaptionEngineSelection], useFactory: (s: CaptionEngineSelection) => s.primary };

/** Captions: the engines (offline template engine, LLM engine when configured), the service, and their routes. */
@Module({
  imports: [LazyLoaderModule, HistoryModule],
  controllers: [CaptionsController],
  providers: [CaptionsService, offlineEngine, engineSelection, primaryEngine],
  exports: [CaptionsService],
})
export class CaptionsModule {}
