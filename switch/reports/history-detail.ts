/** Reading back what a transaction's history row wrote in its JSON detail (store/backend.ts). */
import type { HistoryRow } from '../store/types.js';

/** A text field (decision, note) a history row of a transaction wrote, if any. */
export function txnHistoryField(h: HistoryRow, field: 'decision' | 'note'): string | null {
  if (h.kind !== 'txn' || h.detail === null || !h.detail.includes(`"${field}"`)) return null;
  try {
    const v = (JSON.parse(h.detail) as Record<string, unknown>)[field];
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}
