import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { LargeDataConfig } from './loader-config.js';
import { LazyLoader } from './lazy-loader.js';

/** DI token of the resolved {@link LargeDataConfig}. */
export const LAZY_LOADER_CONFIG = Symbol('LAZY_LOADER_CONFIG');

/**
 * The lazy loader's Nest face, and the only thing `LazyLoaderModule` exports. Everything lives in
 * the plain {@link LazyLoader}; this adds injection and closes the disk tier on shutdown, after
 * pending disk writes have finished.
 */
@Injectable()
export class LazyLoaderService extends LazyLoader implements OnApplicationShutdown {
  constructor(@Inject(LAZY_LOADER_CONFIG) config: LargeDataConfig) {
    super(config);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
