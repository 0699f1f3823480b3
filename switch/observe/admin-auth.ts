/**
 * The admin API's bearer tokens (config admin.tokens: names to "sha256:<hex>" of each
 * token, never the token itself). Writes always need one (cli/review-api.ts); reads too
 * when admin.requireTokenForReads is set (requireToken below), for an admin port that
 * others than the operators can reach. /metrics, /healthz and /readyz are not under
 * /api/ and stay open: a scraper and a probe carry no token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError, send, type ApiHandler } from './admin-api.js';

const CHALLENGE = { 'www-authenticate': 'Bearer' };

/** The name of the token the request bears; HttpError 403 (no tokens configured) or 401 (none, or a wrong one). */
export function tokenName(req: IncomingMessage, tokens: Readonly<Record<string, string>>, what = 'writes'): string {
  const entries = Object.entries(tokens);
  if (entries.length === 0) throw new HttpError(403, `${what} are off: no admin.tokens in the config`);
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  if (m === null) throw new HttpError(401, 'expected Authorization: Bearer TOKEN', CHALLENGE);
  const got = createHash('sha256').update(m[1], 'utf8').digest();
  // Every token is compared, so the time taken does not say which name came close.
  let name: string | null = null;
  for (const [n, hash] of entries) {
    if (timingSafeEqual(got, Buffer.from(hash.slice('sha256:'.length), 'hex')) && name === null) name = n;
  }
  if (name === null) throw new HttpError(401, 'the token is not one of admin.tokens', CHALLENGE);
  return name;
}

/** `handler` behind a token: a request under /api/ without a valid one is answered 401 (403 with no tokens configured). */
export function requireToken(tokens: Readonly<Record<string, string>>, handler: ApiHandler): ApiHandler {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://admin.invalid').pathname;
    if (path !== '/api' && !path.startsWith('/api/')) return false;
    try {
      tokenName(req, tokens, 'reads');
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      send(req, res, e.status, { error: e.message }, e.headers);
      return true;
    }
    return handler(req, res);
  };
}
