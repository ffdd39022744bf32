import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The layers of `src/`, and what each may import besides itself. Dependencies point one way:
 * features → lazy-loader, common, config. `common/fs` (file-system helpers with no imports of their
 * own) is the one part of `common` that configuration may use. A feature imports another feature only where it truly
 * uses that feature's service: captions records into history, batch drafts through captions,
 * jobs drafts through captions, writes its results with their history rows in one transaction
 * and reads uploads with batch's reader, monitoring checks the history database.
 */
const LAYERS = {
  config: ['common/fs'],
  common: ['config'],
  'lazy-loader': ['config', 'common'],
  history: ['config', 'common', 'lazy-loader'],
  captions: ['config', 'common', 'lazy-loader', 'history'],
  batch: ['config', 'common', 'lazy-loader', 'history', 'captions'],
  jobs: ['config', 'common', 'lazy-loader', 'history', 'captions', 'batch'],
  monitoring: ['config', 'common', 'lazy-loader', 'history'],
};
// src/app (bootstrap, HTTP edge, OpenAPI, shutdown), app.module.ts and main.ts sit on top and may
// import every layer; no layer imports them.

const boundaryZones = Object.entries(LAYERS).map(([layer, allowed]) => ({
  target: `./src/${layer}`,
  from: './src',
  except: [`./${layer}`, ...allowed.map((a) => `./${a}`)],
  message: `src/${layer} may import only ${[layer, ...allowed].join(', ')} (dependencies point features → lazy-loader/common/config)`,
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**', 'clients/typescript/src/generated/**', 'clients/typescript/dist/**', 'src/metadata.ts', 'bench/.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      // Off on purpose: an async function that does not await still turns a throw into a rejection
      // (what a Promise-returning interface such as ChunkSource.loadChunk promises its callers), and an
      // async generator with no await is the plain way to write an AsyncIterable source.
      '@typescript-eslint/require-await': 'off',
      // A fire-and-forget promise must say so: `void promise` with the reason in a comment.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  // Plain JavaScript (scripts, this file, crash-test children) is outside the TypeScript project.
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    // The browser client: plain ES modules run by the browser, no build step.
    files: ['ui/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'navigator', 'sessionStorage', 'fetch', 'URL', 'URLSearchParams', 'AbortController', 'TextDecoder', 'Intl', 'IntersectionObserver', 'requestAnimationFrame', 'performance', 'setTimeout', 'setInterval', 'clearInterval', 'console'].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    // Specs, benchmarks and scripts read untyped JSON bodies (supertest, fetch, child output) all day;
    // the promise rules above still apply to them.
    files: ['test/**', 'bench/**', 'scripts/**', '**/*.spec.ts', '**/*.mjs', '*.js', 'src/lazy-loader/testing/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { ...importX.flatConfigs.typescript.settings, 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones: boundaryZones }],
    },
  },
);
