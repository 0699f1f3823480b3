/**
 * Notes the engine writes into a transaction's history for the report to find again:
 * one format, written and read here, so the two never drift.
 */

import type { HistoryRow } from './types.js';

const VELOCITY = 'velocity alert';

/** A text field (decision, note) a history row of a transaction wrote in its JSON detail (./backend.ts), if any. */
export function txnHistoryField(h: HistoryRow, field: 'decision' | 'note'): string | null {
  if (h.kind !== 'txn' || h.detail === null || !h.detail.includes(`"${field}"`)) return null;
  try {
    const v = (JSON.parse(h.detail) as Record<string, unknown>)[field];
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

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
