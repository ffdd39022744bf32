import { Module, type DynamicModule } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { optionsFromEnv, resolveLoaderConfig, type LazyLoaderOptions } from './loader-config.js';
import { LazyLoaderScheduler } from './lazy-loader.scheduler.js';
import { LAZY_LOADER_CONFIG, LazyLoaderService } from './lazy-loader.service.js';

/** DI token of the options given to {@link LazyLoaderModule.forRoot}. */
const LAZY_LOADER_OPTIONS = Symbol('LAZY_LOADER_OPTIONS');

/** Holds the options of `forRoot()`: a value, like the application's configuration. */
@Module({})
class LazyLoaderOptionsModule {}

/**
 * The core: chunked loading behind one service, {@link LazyLoaderService}, the only export. Each
 * feature that reads through the loader imports this module; all of them share one loader (one
 * memory tier, one disk tier). Needs `ScheduleModule.forRoot()` in the application for its
 * scheduled providers.
 */
@Module({
  providers: [
    {
      provide: LAZY_LOADER_CONFIG,
      inject: [AppConfig, { token: LAZY_LOADER_OPTIONS, optional: true }],
      useFactory: (app: AppConfig, given: LazyLoaderOptions | undefined) => resolveLoaderConfig({ ...optionsFromEnv(app.lazyLoader), ...given }),
    },
    LazyLoaderService,
    LazyLoaderScheduler,
  ],
  exports: [LazyLoaderService],
})
export class LazyLoaderModule {
  /**
   * Sets the loader's configuration once, in the application module: a `DataSize` profile plus
   * overrides, e.g. `forRoot({ dataSize: DataSize.LARGE, enable_disk_cache: true })`. With no
   * argument (or without calling it) the configuration comes from the environment
   * (`AppConfig.lazyLoader`); given fields win over it. Features still import `LazyLoaderModule`
   * itself to use the service.
   */
  static forRoot(overrides: LazyLoaderOptions = {}): DynamicModule {
    const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as LazyLoaderOptions;
    return {
      module: LazyLoaderOptionsModule,
      global: true,
      providers: [{ provide: LAZY_LOADER_OPTIONS, useValue: given }],
      exports: [LAZY_LOADER_OPTIONS],
    };
  }
}
