// Writes the OpenAPI document to ./openapi.json without starting the server: the app's modules
// are scanned in Nest's preview mode (no provider is created: no database, no timers), which is
// all the document needs. Run by `npm run openapi` (scripts/openapi.mjs).
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../app.module.js';
import { setGlobalPrefix } from './app.setup.js';
import { loadConfig } from '../config/app-config.js';
import { buildOpenApiDocument } from './openapi.js';

const out = process.argv[2] ?? 'openapi.json';
const dataDir = mkdtempSync(join(tmpdir(), 'captions-openapi-'));
try {
  // Defaults only (no .env), so the document never depends on who ran the script.
  const config = loadConfig({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true', LOG_LEVEL: 'silent', DATA_DIR: dataDir });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), {
    preview: true,
    logger: false,
    bodyParser: false,
    abortOnError: false,
  });
  setGlobalPrefix(app);
  writeFileSync(out, `${JSON.stringify(buildOpenApiDocument(app, config), null, 2)}\n`);
  await app.close();
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
