/**
 * The issuer simulator's refunds: a refund (x220/x200 with processing code 20) credits
 * back what an approved sale took, at most what is left of it, once per refund (a 0221
 * repeat, or the same STAN and F7 again, is answered and counted, never credited twice).
 * A refunded sale nets to zero, so the money check holds: held minus refunded equals the
 * approvals the terminals kept. No I/O: the ledger (./ledger.ts) finds the sale.
 */
import type { IsoMessage } from '../../codec/index.js';

/** What a refund changes on a sale's hold (the ledger's HoldRecord has these and more). */
export interface RefundableHold {
  key: string;
  /** Still held, 12 digits. */
  amount: string;
  /** Credited back so far, 12 digits. */
  refunded: string;
  status: 'held' | 'partial' | 'released';
  releasedAt: number | null;
}

/** What the simulator answers: 00 credited (or a repeat of one), 13 more than is left, 25 no such approved sale. */
export type RefundOutcome = { kind: 'applied' | 'repeat'; code: '00'; hold: RefundableHold } | { kind: 'refused'; code: '13' | '25'; hold: RefundableHold | null };

export interface RefundRecord {
  mti: string;
  stan: string;
  rrn: string;
  amount: string;
  /** The sale's hold key, or '' when none was found. */
  original: string;
  kind: RefundOutcome['kind'];
  code: string;
  at: number;
}

export interface RefundTotals {
  refunds: number;
  refundRepeats: number;
  refused: number;
  /** Minor units credited back. */
  refundedAmount: number;
}

const n12 = (v: number): string => String(v).padStart(12, '0');

export class RefundBook {
  private readonly seen = new Map<RefundableHold, Set<string>>();
  private readonly records: RefundRecord[] = [];
  readonly totals: RefundTotals = { refunds: 0, refundRepeats: 0, refused: 0, refundedAmount: 0 };

  /** Applies the refund to the sale's hold (null: no approved sale matched). */
  apply(msg: IsoMessage, hold: RefundableHold | null, now: number): RefundOutcome {
    const out = this.outcome(msg, hold, now);
    this.records.push({
      mti: msg.mti, stan: msg.get(11) ?? '', rrn: msg.get(37) ?? '', amount: msg.get(4) ?? '', original: hold?.key ?? '', kind: out.kind,
      code: out.code, at: now,
    });
    return out;
  }

  private outcome(msg: IsoMessage, hold: RefundableHold | null, now: number): RefundOutcome {
    if (hold === null) {
      this.totals.refused++;
      return { kind: 'refused', code: '25', hold: null };
    }
    const identity = `${msg.mti.slice(0, 3)}|${msg.get(11) ?? ''}|${msg.get(7) ?? ''}`;
    const ids = this.seen.get(hold) ?? new Set<string>();
    if (ids.has(identity)) {
      this.totals.refundRepeats++;
      return { kind: 'repeat', code: '00', hold };
    }
    const amount = Number(msg.get(4) ?? 'NaN');
    const left = Number(hold.amount);
    if (!Number.isSafeInteger(amount) || amount <= 0 || amount > left) {
      this.totals.refused++;
      return { kind: 'refused', code: '13', hold };
    }
    ids.add(identity);
    this.seen.set(hold, ids);
    this.totals.refunds++;
    this.totals.refundedAmount += amount;
    hold.refunded = n12(Number(hold.refunded) + amount);
    hold.amount = n12(left - amount);
    if (left - amount === 0) {
      hold.status = 'released';
      hold.releasedAt = now;
    }
    return { kind: 'applied', code: '00', hold };
  }

  list(): RefundRecord[] {
    return this.records.map((r) => ({ ...r }));
  }
}
