import { Module, type DynamicModule } from '@nestjs/common';
import { LazyLoaderService } from './lazy-loader.service.js';

/** The core: chunked loading behind one service (the guide's `AdvancedLazyLoader`). */
@Module({})
export class LazyLoaderModule {
  static forRoot(): DynamicModule {
    return {
      module: LazyLoaderModule,
      global: true,
      providers: [LazyLoaderService],
      exports: [LazyLoaderService],
    };
  }
}
