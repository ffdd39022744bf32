import { chmodSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';

/** Directories the service creates: owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Files the service creates (databases, their journals, cache files): owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * A path the service would create or open is a symbolic link. Following it could create or
 * overwrite a file anywhere the process may write, so the service refuses instead. `code` is
 * `ESYMLINK`; `path` names the link.
 */
export class SymlinkRefusedError extends Error {
  readonly code = 'ESYMLINK';
  constructor(readonly path: string) {
    super(`Refusing to use ${path}: it is a symbolic link; replace it with a real directory or file, or remove it`);
    this.name = 'SymlinkRefusedError';
  }
}

/** A path that must be a directory is something else. `code` is `ENOTDIR`. */
export class NotADirectoryError extends Error {
  readonly code = 'ENOTDIR';
  constructor(readonly path: string) {
    super(`Refusing to use ${path}: it is not a directory`);
    this.name = 'NotADirectoryError';
  }
}

function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The paths from just below `root` down to `target` (`root/a`, `root/a/b`, … `target`). A target
 * outside `root` yields only itself: its parents are the operator's to choose.
 */
export function componentsBelow(root: string, target: string): string[] {
  const rel = relative(root, target);
  if (rel === '') return [];
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return [target];
  const parts = rel.split(sep);
  return parts.map((_, i) => join(root, ...parts.slice(0, i + 1)));
}

/**
 * Throws when any of `paths` is a symbolic link, dangling or not (checked with `lstat`, which
 * never follows the last component). Missing paths are fine: they will be created as real files.
 * @throws SymlinkRefusedError naming the first link found.
 */
export function refuseSymlinks(paths: Iterable<string>): void {
  for (const path of paths) {
    if (lstatIfExists(path)?.isSymbolicLink()) throw new SymlinkRefusedError(path);
  }
}

/**
 * Creates `dir` and its missing parents below `root` with mode 0700, one component at a time, so
 * that no component below `root` is ever followed through a link. `root` itself (and what is
 * above it) is taken as configured.
 * @throws SymlinkRefusedError when a component below `root` is a symbolic link;
 *   NotADirectoryError when one is a file.
 */
export function ensurePrivateDir(dir: string, root: string = dirname(dir)): void {
  for (const path of componentsBelow(root, dir)) {
    let st = lstatIfExists(path);
    if (!st) {
      try {
        mkdirSync(path, { mode: PRIVATE_DIR_MODE });
      } catch (err) {
        // Another process made it meanwhile: check what it made.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      st = lstatSync(path);
    }
    if (st.isSymbolicLink()) throw new SymlinkRefusedError(path);
    if (!st.isDirectory()) throw new NotADirectoryError(path);
  }
}

/** The files SQLite keeps beside a database: its journals and shared-memory index. */
export function sqliteFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/**
 * Sets each of `files` that exists to mode 0600. SQLite creates its `-wal`, `-shm` and `-journal`
 * files with the mode of the database file, so restricting the database right after opening it,
 * before WAL is switched on, covers them too; files left from an earlier run are restricted here.
 */
export function restrictFiles(files: Iterable<string>): void {
  for (const file of files) {
    const st = lstatIfExists(file);
    if (st?.isFile() && (st.mode & 0o777) !== PRIVATE_FILE_MODE) chmodSync(file, PRIVATE_FILE_MODE);
  }
}
