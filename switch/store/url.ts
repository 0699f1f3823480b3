/**
 * Store URLs for display: a URL may carry a password (postgres://user:secret@host/db, or
 * ?password=secret), and no log line, error or CLI output may show it.
 */

/** Removes a password from a URL for display: postgres://user:secret@host/db -> postgres://user@host/db. */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*):[^/?#]*@/i, '$1@')
    .replace(/([?&]password=)[^&#]*/gi, '$1*****');
}
