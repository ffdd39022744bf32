import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findUiDirectory, loadUiBundle, UI_ASSETS_PATH } from './web-ui.js';

describe(loadUiBundle.name, () => {
  const dirs: string[] = [];
  const uiDir = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'ui-bundle-'));
    dirs.push(dir);
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    return dir;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const page = '<script type="module" src="%ASSET_BASE%app.js"></script><meta content="%API_BASE%"><meta content="%AUTH_REQUIRED%">';

  it('names the assets by a hash of every file, and writes it, the API base and the key requirement into the page', () => {
    const sut = loadUiBundle(uiDir({ 'index.html': page, 'app.js': 'export const a = 1;\n', 'styles.css': 'body{}' }), { authRequired: true });
    expect(sut.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(sut.index.body.toString()).toBe(`<script type="module" src="${UI_ASSETS_PATH}/${sut.hash}/app.js"></script><meta content="/api/v14/lazy"><meta content="true">`);
    expect([...sut.assets.keys()].sort()).toEqual(['app.js', 'styles.css']);
    expect(sut.assets.get('app.js')!.type).toMatch(/^text\/javascript/);
  });

  it('changes the hash when any file changes, and only then', () => {
    const a = loadUiBundle(uiDir({ 'index.html': page, 'app.js': 'export const a = 1;\n' }), { authRequired: false });
    const same = loadUiBundle(uiDir({ 'index.html': page, 'app.js': 'export const a = 1;\n' }), { authRequired: false });
    const changed = loadUiBundle(uiDir({ 'index.html': page, 'app.js': 'export const a = 2;\n' }), { authRequired: false });
    expect(same.hash).toBe(a.hash);
    expect(changed.hash).not.toBe(a.hash);
  });

  it('finds the files of the repository when run from the sources', () => {
    expect(findUiDirectory()).toMatch(/[/\\]ui$/);
    expect(findUiDirectory(tmpdir())).toBeUndefined();
  });
});
