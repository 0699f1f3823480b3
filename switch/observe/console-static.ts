/**
 * The operations console's files on the admin server: `/` (and `/index.html`) is the
 * page, `/assets/NAME` its script, styles and images, all built by
 * scripts/build-console.js from switch/console/web into dist/switch/console/static.
 * Nothing else: any other path is left to the admin server's other routes (false).
 *
 * Every answer carries a CSP without inline script or style and with no origin but this
 * one: the page shows transactions and takes an admin token, so an injected script or a
 * framing page must get nothing. Only flat file names under assets/ are served (no
 * slash, no leading dot, a known extension), and the resolved real path must still be
 * inside the folder, so neither `..` nor a symlink leads out of it.
 *
 * Not built (a checkout without `npm run build`): 404 with a message saying how to build,
 * never an exception.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendBody } from './admin-guard.js';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export const NOT_BUILT = 'the console is not built: run `npm run build` (or `node scripts/build-console.js`), then reload\n';

/**
 * Where the built console is: next to this module once compiled (dist/switch/observe ->
 * dist/switch/console/static), or dist/ of the checkout when run from source through tsx.
 */
export function defaultConsoleDirs(): string[] {
  return [
    fileURLToPath(new URL('../console/static', import.meta.url)),
    fileURLToPath(new URL('../../dist/switch/console/static', import.meta.url)),
  ];
}

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** The console's routes on `dirs` (the first holding an index.html is served; read per request, so a build while running is picked up). */
export function consoleStatic(dirs: readonly string[] = defaultConsoleDirs()): ConsoleHandler {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://admin.invalid').pathname;
    const page = path === '/' || path === '/index.html';
    if (!page && !path.startsWith('/assets/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(req, res, 405, 'method not allowed\n', 'text/plain; charset=utf-8', { allow: 'GET, HEAD' });
      return true;
    }
    const dir = dirs.find((d) => existsSync(join(d, 'index.html')));
    if (dir === undefined) {
      answer(req, res, 404, NOT_BUILT, 'text/plain; charset=utf-8');
      return true;
    }
    const file = page ? join(dir, 'index.html') : assetPath(dir, path.slice('/assets/'.length));
    if (file === null) {
      answer(req, res, 404, 'not found\n', 'text/plain; charset=utf-8');
      return true;
    }
    const body = await readFile(file);
    const type = page ? 'text/html; charset=utf-8' : TYPES[extname(file)];
    answer(req, res, 200, body, type, { 'cache-control': 'no-cache' });
    return true;
  };
}

/** The file for an asset name, or null when the name is not a plain known file inside dir/assets. */
function assetPath(dir: string, raw: string): string | null {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (!SAFE_NAME.test(name) || TYPES[extname(name)] === undefined) return null;
  const assets = join(dir, 'assets');
  const file = join(assets, name);
  if (!existsSync(file)) return null;
  // A symlink planted in assets/ must not lead out of it either.
  const real = realpathSync(file);
  if (!real.startsWith(realpathSync(assets) + sep) || !statSync(real).isFile()) return null;
  return real;
}

function answer(_req: IncomingMessage, res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
  sendBody(res, status, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store', ...extra }, body);
}
