/**
 * What a PostgreSQL error says: a message fit for a log line (with its SQLSTATE), and
 * which errors belong to one operation's data, which to a conflict between transactions
 * that a rerun may resolve, and which to the batch as a whole (see ./postgres-backend.ts).
 */

/** An error's message with its SQLSTATE or system code; an AggregateError (every address refused) says what each one did. */
export function pgMessage(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) {
    const inner = [...new Set(e.errors.map(pgMessage))].join('; ');
    return e.message ? `${e.message}: ${inner}` : inner;
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const msg = e.message || e.name;
    return typeof code === 'string' && !msg.includes(code) ? `${msg} (${code})` : msg;
  }
  return String(e);
}

export const sqlState = (e: unknown): string => {
  const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : '';
};

/**
 * Errors that belong to one operation's data, as a refused statement in SQLite does:
 * data exceptions (22), integrity constraints (23), a trigger or function raising (P0,
 * 38, 39), WITH CHECK OPTION (44). The rest concern the batch, the session or the server.
 */
export const refusedByData = (state: string): boolean => /^(22|23|P0|38|39|44)/.test(state);
/** Serialization failure, deadlock: nothing committed, the same batch may well commit when run again. */
export const conflict = (state: string): boolean => state.startsWith('40');
/** Commands ignored until the end of an aborted transaction: an earlier statement's failure, not this one's. */
export const IN_FAILED_TRANSACTION = '25P02';
