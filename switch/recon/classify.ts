/**
 * One journal row against the settlement records that key to it: which class each lands
 * in and what fixes it. Pure: the reconciler (./reconcile.ts) feeds it groups in order.
 *
 * The file's net for a sale is its sale record less its reversal records; the journal's is
 * ./journal-side.ts's expectation. Equal nets agree (nothing settled for a declined sale
 * agrees too). A second sale record for one sale is a duplicate, whatever the rest says.
 */
import { checkCumulative } from '../../rules/index.js';
import type { ReconKeys, ReconLine } from './classes.js';
import type { Expectation } from './journal-side.js';
import type { SettlementType } from './settlement-record.js';

/** A journal row as the reconciler holds it: a sale (undoId its reversal), or a refund (txnId its original's, undoId its own). */
export interface JournalEntry extends Expectation, ReconKeys {
  kind: 'sale' | 'refund';
  currency: string;
}

/** A settlement record as the reconciler holds it. */
export interface FileEntry {
  line: number;
  type: SettlementType;
  amount: number;
  currency: string;
  rrn: string;
  terminal: string;
  stan: string;
  f7: string;
}

export interface Classified {
  /** The journal row's own class, with the records that share it. */
  main: ReconLine;
  /** Extra sale records of the same sale: duplicate_in_file each. */
  duplicates: ReconLine[];
}

function line(j: JournalEntry, recs: readonly FileEntry[], fileAmount: number | null): Omit<ReconLine, 'cls' | 'action' | 'actionAmount' | 'why'> {
  return {
    currency: j.currency || recs[0]?.currency || '', txnId: j.txnId, undoId: j.undoId, undoState: j.undoState, state: j.state,
    rrn: j.rrn, terminal: j.terminal, stan: j.stan, f7: j.f7, journalAmount: j.expected, fileAmount, fileLines: recs.map((r) => r.line),
  };
}

function duplicate(j: JournalEntry, r: FileEntry, proposeRefund: boolean): ReconLine {
  return {
    ...line(j, [r], r.amount), journalAmount: null, cls: 'duplicate_in_file', action: 'review', actionAmount: proposeRefund ? r.amount : null,
    why: proposeRefund
      ? `settled twice: line ${r.line} repeats the sale; approve to refund the extra ${r.amount}`
      : `settled twice: line ${r.line} repeats the refund: the cardholder was credited twice; raise it with the issuer`,
  };
}

/** The sale record the journal row most likely is: the one with the amount it expects. */
function primaryOf(sales: readonly FileEntry[], want: number): FileEntry | undefined {
  return sales.find((s) => s.amount === want) ?? sales[0];
}

export function classifySale(j: JournalEntry, recs: readonly FileEntry[]): Classified {
  const sales = recs.filter((r) => r.type === 'sale');
  const reversals = recs.filter((r) => r.type === 'reversal');
  const primary = primaryOf(sales, j.kept ? j.expected : j.asked);
  const duplicates = sales.filter((s) => s !== primary).map((s) => duplicate(j, s, true));
  const own = recs.filter((r) => r.type !== 'sale' || r === primary);
  const fileNet = (primary?.amount ?? 0) - reversals.reduce((a, r) => a + r.amount, 0);
  const base = line(j, own, own.length === 0 ? null : fileNet);
  const E = j.expected;
  const currencyDiffers = primary !== undefined && j.currency !== '' && primary.currency !== j.currency;
  if (fileNet === E && !currencyDiffers) return { main: { ...base, cls: 'matched', action: 'none', actionAmount: null, why: '' }, duplicates };
  if (currencyDiffers) {
    return { main: { ...base, cls: 'amount_mismatch', action: 'review', actionAmount: null, why: `the journal's currency is ${j.currency}, the file settles in ${primary.currency}` }, duplicates };
  }
  if (fileNet > E) {
    const extra = fileNet - E;
    // A refund never gives back more than the sale was for (rules/limits.ts): a file that
    // settles more than that is a person's question, not an automatic credit.
    const over = j.kept ? null : checkCumulative(j.asked, 0, extra);
    if (over !== null) {
      return { main: { ...base, cls: j.reversalAcked ? 'reversal_not_applied' : 'posted_but_undone', action: 'review', actionAmount: j.asked, why: `the file settles ${fileNet} (the journal expects ${E}), but ${over.text}: approve to refund at most the original` }, duplicates };
    }
    if (j.kept) {
      return { main: { ...base, cls: 'amount_mismatch', action: 'review', actionAmount: null, why: `the journal approved ${E}, the file settles ${fileNet}` }, duplicates };
    }
    if (j.reversalAcked) {
      return {
        main: { ...base, cls: 'reversal_not_applied', action: 'refund', actionAmount: extra, why: `the reversal was acknowledged, yet the file settles ${fileNet} (the journal expects ${E}): refund ${extra}` },
        duplicates,
      };
    }
    const how = j.undone ? `the journal undid it (${j.state}${j.undoState ? `, reversal ${j.undoState}` : ''})` : `the terminal was answered ${j.state}`;
    if (j.undoInFlight) {
      return {
        main: { ...base, cls: 'posted_but_undone', action: 'review', actionAmount: extra, why: `${how}, yet the file settles ${fileNet}; its reversal is still in the queue, so a refund now could credit twice: approve to refund ${extra}` },
        duplicates,
      };
    }
    return { main: { ...base, cls: 'posted_but_undone', action: 'refund', actionAmount: extra, why: `${how}, yet the file settles ${fileNet}: refund ${extra}` }, duplicates };
  }
  if (primary === undefined && E > 0) {
    return { main: { ...base, cls: 'missing_at_issuer', action: 'review', actionAmount: null, why: `the journal kept an approval of ${E} that the file does not settle: the merchant may not be paid; raise it with the issuer` }, duplicates };
  }
  return { main: { ...base, cls: 'amount_mismatch', action: 'review', actionAmount: null, why: `the journal expects ${E}, the file settles ${fileNet}` }, duplicates };
}

export function classifyRefund(j: JournalEntry, recs: readonly FileEntry[]): Classified {
  const refunds = recs.filter((r) => r.type === 'refund');
  const primary = primaryOf(refunds, j.expected);
  const duplicates = refunds.filter((r) => r !== primary).map((r) => duplicate(j, r, false));
  const own = primary === undefined ? [] : [primary];
  const fileNet = primary?.amount ?? 0;
  const base = line(j, own, primary === undefined ? null : fileNet);
  if (fileNet === j.expected) return { main: { ...base, cls: 'matched', action: 'none', actionAmount: null, why: '' }, duplicates };
  if (primary === undefined) {
    return {
      main: { ...base, cls: 'missing_at_issuer', action: 'review', actionAmount: null, why: `the issuer acknowledged refund ${j.undoId ?? ''} of ${j.expected}, but the file does not settle it: the cardholder may not be credited` },
      duplicates,
    };
  }
  return { main: { ...base, cls: 'amount_mismatch', action: 'review', actionAmount: null, why: `the journal refunded ${j.expected}, the file settles ${fileNet}` }, duplicates };
}

/** A record nothing in the journal keys to. */
export function unknownRecord(r: FileEntry, why: string): ReconLine {
  return {
    cls: 'unknown_to_switch', currency: r.currency, txnId: null, undoId: null, undoState: null, state: null, rrn: r.rrn, terminal: r.terminal,
    stan: r.stan, f7: r.f7, journalAmount: null, fileAmount: r.type === 'sale' ? r.amount : -r.amount, fileLines: [r.line], action: 'review', actionAmount: null, why,
  };
}
