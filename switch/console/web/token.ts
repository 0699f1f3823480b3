/**
 * The admin bearer token: asked for once per tab and kept in sessionStorage only, so it
 * is gone when the tab closes and never reaches localStorage, a cookie or a URL.
 */
const KEY = 'revswitch.adminToken';

export function adminToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setAdminToken(token: string | null): void {
  if (token === null || token.trim() === '') sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, token.trim());
}
