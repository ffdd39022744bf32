import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('boot with a bad variable', () => {
  it('stops the process with a message naming it, and no stack', { timeout: 90_000 }, () => {
    // The real entry point (src/main.ts), compiled on the fly as the other child-process specs do:
    // no spec builds dist/.
    const r = spawnSync(process.execPath, ['--import', './scripts/swc-register.mjs', 'src/main.ts'], {
      env: { ...process.env, PORT: '99999', DATA_DIR: '/tmp/never-used-config-test', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PORT=');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
