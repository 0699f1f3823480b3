/**
 * The review queue over the admin HTTP server, beside the read-only /api/ routes:
 *
 *   GET  /api/review[?state=open|approved|rejected]   the items (default open)
 *   GET  /api/review/ID                               one item
 *   POST /api/review/ID/approve  {"note": "...", "action": "reverse|refund|none"}
 *   POST /api/review/ID/reject   {"note": "..."}
 *
 * A write needs `Authorization: Bearer TOKEN` whose SHA-256 is one of the config's
 * `admin.tokens`; the token's name is who decided. With no tokens configured every write
 * answers 403; a missing or wrong token 401. Tokens are never logged nor echoed. Errors
 * are JSON `{ "error": "..." }`: 400 bad input, 404 no such item, 409 already decided or
 * refused by the domain's rules, 413 a body over admin.maxBodyBytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledRules } from '../../rules/index.js';
import { HttpError, pathSegment, send } from '../observe/admin-api.js';
import { BodyTooLarge, readBody } from '../observe/admin-guard.js';
import { tokenName } from '../observe/admin-auth.js';
import type { Logger } from '../observe/log.js';
import type { ReviewAction, ReviewState, Store } from '../store/types.js';
import { approveReview, rejectReview, ReviewError } from '../undo/review-actions.js';

const STATES: readonly string[] = ['open', 'approved', 'rejected'];
const ACTIONS: readonly string[] = ['reverse', 'refund', 'none'];

export interface ReviewApiOptions {
  store: Store;
  /** Names to "sha256:<hex>" (config admin.tokens). */
  tokens: Readonly<Record<string, string>>;
  rules: () => CompiledRules;
  log: Logger;
  /** The longest body read (config admin.maxBodyBytes): past it 413, and the rest is never read. */
  maxBodyBytes: number;
}

async function body(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  let raw: Buffer;
  try {
    raw = await readBody(req, limit);
  } catch (e) {
    // The connection closes after the answer: the rest of the body is not waited for.
    if (e instanceof BodyTooLarge) throw new HttpError(413, e.message, { connection: 'close' });
    throw e;
  }
  try {
    const v: unknown = JSON.parse(raw.toString('utf8') || '{}');
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'expected a JSON object body: {"note": "...", "action": "reverse|refund|none"}');
  }
}

export function reviewApi(o: ReviewApiOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://admin.invalid');
    if (u.pathname !== '/api/review' && !u.pathname.startsWith('/api/review/')) return false;
    try {
      send(req, res, 200, await route(o, req, u));
    } catch (e) {
      if (e instanceof HttpError) send(req, res, e.status, { error: e.message }, e.headers);
      else if (e instanceof ReviewError) send(req, res, e.kind === 'not_found' ? 404 : 409, { error: e.message });
      else send(req, res, 500, { error: `the store failed: ${e instanceof Error ? e.message : String(e)}` });
    }
    return true;
  };
}

async function route(o: ReviewApiOptions, req: IncomingMessage, u: URL): Promise<unknown> {
  const path = u.pathname.slice('/api/review'.length);
  const read = req.method === 'GET' || req.method === 'HEAD';
  if (path === '' || path === '/') {
    if (!read) throw new HttpError(405, 'GET the list; POST to /api/review/ID/approve or /reject');
    const state = u.searchParams.get('state') ?? 'open';
    if (!STATES.includes(state)) throw new HttpError(400, `state: expected ${STATES.join(', ')}; got ${JSON.stringify(state)}`);
    const items = await o.store.reviews([state as ReviewState]);
    return { count: items.length, items };
  }
  const m = /^\/([^/]+)(?:\/(approve|reject))?$/.exec(path);
  if (m === null) throw new HttpError(404, `no such API path: ${u.pathname}`);
  const id = pathSegment(m[1]);
  if (m[2] === undefined) {
    if (!read) throw new HttpError(405, `POST to /api/review/${m[1]}/approve or /reject`);
    const item = await o.store.review(id);
    if (item === undefined) throw new HttpError(404, `no review item ${JSON.stringify(id)}`);
    return item;
  }
  if (req.method !== 'POST') throw new HttpError(405, `${m[2]} is a POST`);
  const by = tokenName(req, o.tokens);
  const b = await body(req, o.maxBodyBytes);
  const note = typeof b.note === 'string' ? b.note.trim() : '';
  if (note === '') throw new HttpError(400, 'note: required, why (it goes into the history)');
  const now = Date.now();
  if (m[2] === 'reject') {
    await rejectReview(o.store, id, { by, note }, now);
    o.log.info('review rejected', { review: id, by });
    return { id, state: 'rejected', by };
  }
  const action = b.action;
  if (action !== undefined && (typeof action !== 'string' || !ACTIONS.includes(action))) throw new HttpError(400, `action: expected ${ACTIONS.join(', ')}`);
  const r = await approveReview(o.store, id, { by, note, action: action as ReviewAction | undefined }, o.rules(), now);
  o.log.info('review approved', { review: id, by, action: r.action, undo: r.undoId ?? undefined });
  return { id, state: 'approved', by, action: r.action, undoId: r.undoId };
}
