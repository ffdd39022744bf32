import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Type } from '@nestjs/common';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/app/app.setup.js';
import { loadConfig } from '../../src/config/app-config.js';

export interface TestApp {
  app: NestExpressApplication;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * The real application, with the same HTTP edge as production, on a fresh temporary DATA_DIR.
 * `env` overrides configuration; `controllers` adds test-only routes (e.g. one that throws), and
 * `imports` the modules whose exports those routes use.
 */
export async function createTestApp(
  options: { env?: Record<string, string>; controllers?: Type[]; imports?: Type[]; dataDir?: string } = {},
): Promise<TestApp> {
  // `dataDir`: a directory the spec prepared (it is removed on close like a fresh one).
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'captions-e2e-'));
  // CAPTION_WORKERS=0: captions are drafted on this thread, where specs count and hold the engine's
  // drafts (a spy on its `generate`); the drafting threads have specs of their own that set it.
  const config = loadConfig({ LOG_LEVEL: 'silent', NODE_ENV: 'test', SHUTDOWN_DELAY_MS: '0', CAPTION_WORKERS: '0', ...options.env, DATA_DIR: dataDir });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.register(config), ...(options.imports ?? [])],
    controllers: options.controllers ?? [],
  }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, bufferLogs: true });
  configureApp(app);
  await app.init();
  return {
    app,
    dataDir,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
