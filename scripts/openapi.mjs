// `npm run openapi`: writes the OpenAPI 3.2 document to ./openapi.json and the client package's
// generated types (clients/typescript/src/generated), without starting the server (nothing listens).
//
// 1. The @nestjs/swagger plugin's metadata (DTO properties, class-validator rules, TSDoc
//    descriptions, return types) is generated from the TypeScript program into src/metadata.ts,
//    which the app loads (src/app/openapi.ts). One mechanism for every build: `nest build`
//    (tsc), the tests (SWC) and this script all see the same metadata, so the document served at
//    /openapi.json in a test is the committed file.
// 2. src/app/openapi.cli.ts scans the app in Nest's preview mode (no provider created,
//    nothing listens), compiled on the fly by SWC, and writes the document with sorted keys.
// 3. openapi-typescript turns it into clients/typescript/src/generated/api.ts for openapi-fetch, and
//    clients/typescript/scripts/streams.mjs types each stream's items (openapi-typescript 7 does not
//    read OpenAPI 3.2's itemSchema).
// CI runs it after the build and fails when `git diff` shows openapi.json changed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { PluginMetadataGenerator } from '@nestjs/cli/lib/compiler/plugins/plugin-metadata-generator.js';
import { ReadonlyVisitor } from '@nestjs/swagger/plugin';

const API_TYPES = 'clients/typescript/src/generated/api.ts';
const STREAM_TYPES = 'clients/typescript/src/generated/streams.ts';
const files = ['src/metadata.ts', 'openapi.json', API_TYPES, STREAM_TYPES];
const before = Object.fromEntries(files.map((f) => [f, existsSync(f) ? readFileSync(f, 'utf8') : undefined]));

new PluginMetadataGenerator().generate({
  visitors: [
    new ReadonlyVisitor({
      introspectComments: true,
      classValidatorShim: true,
      esmCompatible: true,
      pathToSource: new URL('../src', import.meta.url).pathname,
      dtoFileNameSuffix: ['.dto.ts'],
      controllerFileNameSuffix: ['.controller.ts'],
    }),
  ],
  outputDir: 'src',
  filename: 'metadata.ts',
  tsconfigPath: 'tsconfig.build.json',
  printDiagnostics: false,
});

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, LOG_LEVEL: 'silent' } });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run(process.execPath, ['--import', './scripts/swc-register.mjs', 'src/app/openapi.cli.ts', 'openapi.json']);
run('npx', ['openapi-typescript', 'openapi.json', '--redocly', 'clients/typescript/redocly.yaml', '--output', API_TYPES, '--root-types', '--default-non-nullable', 'false']);

run(process.execPath, ['clients/typescript/scripts/streams.mjs', 'openapi.json', STREAM_TYPES]);

const changed = files.filter((f) => readFileSync(f, 'utf8') !== before[f]);
console.log(changed.length ? `updated: ${changed.join(', ')}` : `up to date: ${files.join(', ')}`);
