import { Global, Module, type DynamicModule } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import { AppConfig } from './app-config.js';

/** Makes the one validated {@link AppConfig} injectable everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    // Everything the service writes by default lives under DATA_DIR.
    mkdirSync(config.dataDir, { recursive: true });
    return {
      module: ConfigModule,
      providers: [{ provide: AppConfig, useValue: config }],
      exports: [AppConfig],
    };
  }
}
