import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { API_PREFIX } from './app.routes.js';

/** Where the asset files are served: `/ui/<hash>/<file>`, the hash covering every file. */
export const UI_ASSETS_PATH = '/ui';

/**
 * The UI's own policy, stricter than the API's: scripts and styles only from files of this origin
 * (no inline code, no `eval`), requests only to this origin, no frames, no plugins.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

interface Asset {
  body: Buffer;
  gzipped: Buffer;
  type: string;
  etag: string;
}

/** The UI's files as served: read once at start, each with its gzip form and ETag. */
export interface UiBundle {
  /** Of every file's name and content: changes whenever any file does, so asset URLs can be cached for good. */
  hash: string;
  index: Asset;
  assets: Map<string, Asset>;
}

/**
 * The directory holding `index.html`: `dist/ui` in a build (copied there by `nest build`), else
 * `ui/` at the repository root (running from the TypeScript sources).
 */
export function findUiDirectory(from = import.meta.dirname): string | undefined {
  return [resolve(from, '../ui'), resolve(from, '../../ui')].find((dir) => existsSync(join(dir, 'index.html')));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && TYPES[extname(e.name)] !== undefined)
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

function asset(body: Buffer, type: string): Asset {
  return { body, gzipped: gzipSync(body), type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/**
 * Reads the UI's files and puts the content hash into `index.html`: `%ASSET_BASE%` becomes
 * `/ui/<hash>/` and `%API_BASE%` the API's base path, so the page names its assets by content
 * and ES modules importing each other relatively stay under the same hash. `%AUTH_REQUIRED%`
 * tells the page whether the API wants a key, so it asks for one before its first call instead
 * of learning it from a 401.
 */
export function loadUiBundle(dir: string, opts: { authRequired: boolean }): UiBundle {
  const files = filesUnder(dir);
  const hasher = createHash('sha256');
  const contents = new Map<string, Buffer>();
  for (const name of files) {
    const body = readFileSync(join(dir, name));
    contents.set(name, body);
    hasher.update(name).update('\0').update(body).update('\0');
  }
  const hash = hasher.digest('hex').slice(0, 16);
  const assets = new Map<string, Asset>();
  for (const [name, body] of contents) if (name !== 'index.html') assets.set(name, asset(body, TYPES[extname(name)]!));
  const html = contents
    .get('index.html')!
    .toString('utf8')
    .replaceAll('%ASSET_BASE%', `${UI_ASSETS_PATH}/${hash}/`)
    .replaceAll('%API_BASE%', `/${API_PREFIX}`)
    .replaceAll('%AUTH_REQUIRED%', String(opts.authRequired));
  return { hash, index: asset(Buffer.from(html, 'utf8'), TYPES['.html']!), assets };
}

function send(req: Request, res: Response, a: Asset, cacheControl: string): void {
  res.setHeader('Content-Type', a.type);
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('ETag', a.etag);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('Content-Security-Policy', UI_CONTENT_SECURITY_POLICY);
  if (req.headers['if-none-match'] === a.etag) {
    res.status(304).end();
    return;
  }
  const gzip = /\bgzip\b/i.test(req.headers['accept-encoding'] ?? '');
  const body = gzip ? a.gzipped : a.body;
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Length', String(body.length));
  res.status(200).end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Express middleware serving the UI: `GET /` (and `/index.html`) is the page, revalidated on every
 * load (`no-cache`); `GET /ui/<hash>/<file>` its files, cached for a year (`immutable`), since a
 * new content gets a new hash. A file of another hash (a page from before a deploy) is a 404 like
 * any unknown path: the reload that fetches the new page fetches the new names. Every other
 * request goes on to the API. Mounted before the API-key check: the page and its code are public,
 * the API calls it makes carry the key.
 */
export function uiMiddleware(bundle: UiBundle): RequestHandler {
  const prefix = `${UI_ASSETS_PATH}/${bundle.hash}/`;
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const path = req.path;
    if (path === '/' || path === '/index.html') return send(req, res, bundle.index, 'no-cache');
    if (!path.startsWith(prefix)) return next();
    const a = bundle.assets.get(path.slice(prefix.length));
    if (!a) return next();
    send(req, res, a, 'public, max-age=31536000, immutable');
  };
}
