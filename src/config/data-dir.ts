import { Logger } from '@nestjs/common';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { componentsBelow, PRIVATE_DIR_MODE, refuseSymlinks, sqliteFiles } from '../common/fs/private-paths.js';
import type { AppConfig } from './app-config.js';

/**
 * Prepares `DATA_DIR` before any provider opens a file in it: creates it (mode 0700) if missing,
 * and checks that no path the service will create below it is a symbolic link: each component
 * from `DATA_DIR` down to the disk cache directory and to the SQLite history file, and that file's
 * journals. `DATA_DIR` itself may be a link (a volume mounted elsewhere is the operator's choice).
 * An existing `DATA_DIR` that others can read is left as it is, with a warning: its files are
 * 0600 whatever the directory's mode.
 * @throws SymlinkRefusedError naming the link, so the service does not start.
 */
export function prepareDataDir(config: AppConfig): void {
  const root = config.dataDir;
  mkdirSync(root, { recursive: true, mode: PRIVATE_DIR_MODE });
  const paths = componentsBelow(root, config.lazyLoader.diskCacheDir);
  if (config.databaseUrl.startsWith('sqlite:')) {
    const file = config.databaseUrl.slice('sqlite:'.length);
    paths.push(...componentsBelow(root, dirname(file)), ...sqliteFiles(file));
  }
  refuseSymlinks(paths);
  const mode = statSync(root).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    new Logger('DataDir').warn(`DATA_DIR ${root} is open to other users (mode ${mode.toString(8)}); 700 is recommended`);
  }
}
