/**
 * The admin API as the console calls it: same origin only (the CSP allows nothing else),
 * JSON both ways, the admin token (./token.ts) on every call when one is set, so a switch
 * with admin.requireTokenForReads works too. An answer other than 2xx is an ApiError
 * carrying the server's own `{ "error": ... }` message.
 */
import { adminToken } from './token.js';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = adminToken();
  return { accept: 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...extra };
}

async function parse<T>(r: Response): Promise<T> {
  const text = await r.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  if (!r.ok) {
    const msg = body !== null && typeof body === 'object' && 'error' in body ? String((body as { error: unknown }).error) : text.trim() || r.statusText;
    throw new ApiError(r.status, msg);
  }
  return body as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { headers: headers(), cache: 'no-store', credentials: 'omit' }));
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return parse<T>(await fetch(path, {
    method: 'POST', headers: headers({ 'content-type': 'application/json' }), body: JSON.stringify(body), cache: 'no-store', credentials: 'omit',
  }));
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.status}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
