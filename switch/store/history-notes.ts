/**
 * Notes the engine writes into a transaction's history for the report to find again:
 * one format, written and read here, so the two never drift.
 */

const VELOCITY = 'velocity alert';

/**
 * "velocity alert (terminal, card): <the counts>": an undo past a velocity threshold. The
 * scopes are what the report groups by; the counts are for the person reading the history.
 */
export function velocityNote(scopes: readonly string[], text: string): string {
  return `${VELOCITY} (${scopes.join(', ')}): ${text}`;
}

/** The scopes of a velocity note, or null when the note is something else. */
export function velocityScopesOf(note: string): string[] | null {
  if (!note.startsWith(`${VELOCITY} (`)) return null;
  const end = note.indexOf(')', VELOCITY.length + 2);
  if (end < 0) return null;
  return note.slice(VELOCITY.length + 2, end).split(', ').filter((s) => s !== '');
}
