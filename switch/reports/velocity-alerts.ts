/**
 * The report's "Velocity alerts" section: the undos past a velocity threshold whose notes
 * the engine wrote into transactions' history in the window (store/history-notes.ts),
 * grouped per scope and who. The reversals behind them went out regardless.
 */
import { velocityScopesOf } from '../store/history-notes.js';
import { byKey, SCOPE_ORDER } from '../store/report-query.js';
import type { HistoryRow, TxnRow } from '../store/types.js';
import { txnHistoryField } from '../store/history-notes.js';
import { isoTime as iso } from './time.js';

/** Undos past a velocity threshold in the window, per scope and who (reversals went out regardless). */
export interface VelocityAlertLine {
  scope: string;
  /** F41 (terminal), F42 (merchant), or the masked PAN (card); '(none)' when the row has none. */
  key: string;
  alerts: number;
  last: string;
}

/** The velocity alerts written in the window: transaction id, scopes, when. */
export function velocityAlerts(history: readonly HistoryRow[]): { ref: string; scopes: string[]; at: number }[] {
  const out: { ref: string; scopes: string[]; at: number }[] = [];
  for (const h of history) {
    const note = txnHistoryField(h, 'note');
    const scopes = note === null ? null : velocityScopesOf(note);
    if (scopes !== null) out.push({ ref: h.ref, scopes, at: h.at });
  }
  return out;
}

/** One line per scope and terminal, merchant or masked card; most alerts first (ties as the stores order them: byKey). */
export function velocityAlertLines(history: readonly HistoryRow[], byId: ReadonlyMap<string, TxnRow>): VelocityAlertLine[] {
  const alerts = new Map<string, VelocityAlertLine>();
  for (const a of velocityAlerts(history)) {
    const t = byId.get(a.ref);
    for (const scope of a.scopes) {
      const key = (scope === 'terminal' ? t?.terminal : scope === 'merchant' ? t?.merchant : t?.panMasked) ?? '(none)';
      const line = alerts.get(`${scope}|${key}`);
      if (line === undefined) alerts.set(`${scope}|${key}`, { scope, key, alerts: 1, last: iso(a.at) });
      else {
        line.alerts++;
        if (iso(a.at) > line.last) line.last = iso(a.at);
      }
    }
  }
  return [...alerts.values()]
    .sort((a, b) => b.alerts - a.alerts || SCOPE_ORDER.indexOf(a.scope) - SCOPE_ORDER.indexOf(b.scope) || byKey(a.key, b.key));
}
