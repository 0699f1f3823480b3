/**
 * The originals of UnionPay POS reversals, which name none in a field of their own: a
 * terminal's 0400 repeats the sale's trace in F11 (and F60's batch); one that carries F61
 * names the batch and trace there; the switch's own 0400 (undo/reversal-queue.ts) takes a
 * STAN of its link's and carries neither, so only the terminal (F41), the card, the batch
 * and the amount are left to tell its sale. Of several sales alike in all of these, the
 * oldest still held is taken; a reversal seen before goes back to the sale it reached,
 * so its repeat never lands on another.
 */
import { maskPan, type IsoMessage } from '../../codec/index.js';

interface Entry<T> {
  txn: T;
  /** 60.2 of the sale. */
  batch: string;
  /** Masked, as the ledger keeps it. */
  pan: string;
  /** F4 the sale asked for, n12. */
  asked: string;
}

/** What an original must say about its hold: whether one is still there to release. */
interface HasHold {
  hold: { status: string } | null;
}

const n12 = (v: string | undefined): string => (v ?? '').padStart(12, '0');

function batchOf(msg: IsoMessage): string {
  try {
    return msg.cup60()?.batch ?? '';
  } catch {
    return '';
  }
}

function panOf(msg: IsoMessage): string {
  const pan = msg.get(2);
  return pan === undefined ? '' : maskPan(pan);
}

export class CupOriginals<T extends HasHold> {
  /** F41|F11 of the sale. */
  private readonly byTrace = new Map<string, Entry<T>[]>();
  /** F41|masked PAN of the sale. */
  private readonly byCard = new Map<string, Entry<T>[]>();
  /** A reversal's identity (./original-keys.ts) -> the sale it reached. */
  private readonly byReversal = new Map<string, T>();

  add(req: IsoMessage, txn: T): void {
    const e: Entry<T> = { txn, batch: batchOf(req), pan: panOf(req), asked: n12(req.get(4)) };
    push(this.byTrace, `${req.get(41) ?? ''}|${req.get(11) ?? ''}`, e);
    push(this.byCard, `${req.get(41) ?? ''}|${e.pan}`, e);
  }

  /** The sale `rev` reverses, or undefined when none fits. */
  find(rev: IsoMessage, identity: string): T | undefined {
    const seen = this.byReversal.get(identity);
    if (seen) return seen;
    if (rev.has(61)) return this.named(rev);
    const f41 = rev.get(41) ?? '';
    const batch = batchOf(rev);
    const pan = panOf(rev);
    const amount = n12(rev.get(4));
    // The reversal's F4 is what stays with the cardholder when below the sale's: a partial one.
    const alike = (e: Entry<T>): boolean => e.pan === pan && e.batch === batch && amount <= e.asked;
    return pick((this.byTrace.get(`${f41}|${rev.get(11) ?? ''}`) ?? []).filter(alike))
      ?? pick((this.byCard.get(`${f41}|${pan}`) ?? []).filter((e) => alike(e) && e.asked === amount))
      ?? pick((this.byCard.get(`${f41}|${pan}`) ?? []).filter(alike));
  }

  /** The sale F61 names by its batch and trace (a refund's, or a reversal's that has one). */
  named(msg: IsoMessage): T | undefined {
    let f61: { batch: string; trace: string } | undefined;
    try {
      f61 = msg.cup61();
    } catch {
      return undefined;
    }
    if (f61 === undefined) return undefined;
    const { batch, trace } = f61;
    return pick((this.byTrace.get(`${msg.get(41) ?? ''}|${trace}`) ?? []).filter((e) => e.batch === batch));
  }

  /** Sends later reversals with `identity` (repeats, duplicates) to the sale this one reached. */
  remember(identity: string, txn: T): void {
    this.byReversal.set(identity, txn);
  }
}

/** The oldest with a hold still in place, else the oldest with a hold, else the oldest. */
function pick<T extends HasHold>(entries: Entry<T>[]): T | undefined {
  const e = entries.find((x) => x.txn.hold !== null && x.txn.hold.status !== 'released')
    ?? entries.find((x) => x.txn.hold !== null) ?? entries[0];
  return e?.txn;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
