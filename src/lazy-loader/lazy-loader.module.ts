import { Module, type DynamicModule } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { optionsFromEnv, resolveLoaderConfig, type LazyLoaderOptions } from './data-size.js';
import { LazyLoaderScheduler } from './lazy-loader.scheduler.js';
import { LAZY_LOADER_CONFIG, LazyLoaderService } from './lazy-loader.service.js';

/**
 * The core: chunked loading behind one service (the guide's `AdvancedLazyLoader`). Needs
 * `ScheduleModule.forRoot()` in the application for its scheduled providers.
 */
@Module({})
export class LazyLoaderModule {
  /**
   * The guide's `create_lazy_loader(DataSize.LARGE, enable_disk_cache=True)`:
   * `forRoot({ dataSize: DataSize.LARGE, enable_disk_cache: true })`. With no argument the
   * configuration comes from the environment (`AppConfig.lazyLoader`); given fields win over it.
   */
  static forRoot(overrides: LazyLoaderOptions = {}): DynamicModule {
    const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as LazyLoaderOptions;
    return {
      module: LazyLoaderModule,
      global: true,
      providers: [
        {
          provide: LAZY_LOADER_CONFIG,
          inject: [AppConfig],
          useFactory: (app: AppConfig) => resolveLoaderConfig({ ...optionsFromEnv(app.lazyLoader), ...given }),
        },
        LazyLoaderService,
        LazyLoaderScheduler,
      ],
      exports: [LazyLoaderService],
    };
  }
}
