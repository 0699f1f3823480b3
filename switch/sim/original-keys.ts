/**
 * How the issuer simulator's ledger (./ledger.ts) reads a message of each standard: the key
 * it files an original under, the key a reversal or refund names its original by (F90 on
 * 1987, F56 on 1993: the profile's originalOf), a reversal's reason (F39, or F25 on 1993)
 * and its final amount when partial (F95 on 1987; F4 on 1993, with F24 401; F4 below the
 * original on UnionPay, whose reversal carries the amount that stays), and what tells one
 * reversal from a repeat of it.
 */
import { IsoError, mtiOrigin, MtiOrigin, type IsoMessage, type Profile } from '../../codec/index.js';

/** ISO 8583:1993's function code of a partial reversal. */
const PARTIAL_REVERSAL_93 = '401';

/** The MTI an original is filed under. */
export function baseMti(mti: string): string {
  // 0201 (a repeat of a 0200) is keyed as its 0200.
  return mti.length === 4 && mtiOrigin(mti) === MtiOrigin.AcquirerRepeat ? mti.slice(0, 3) + '0' : mti;
}

/**
 * MTI + F11 + the original's time + acquirer (11 digits), the part of F90 (or F56) the
 * ledger keys on: the time is F7 on 1987 and UnionPay, F12 (the local date-time F56
 * carries) on 1993.
 */
export function originalKey(mti: string, stan: string, time: string, acquirer: string): string {
  return baseMti(mti) + stan + time + acquirer.padStart(11, '0');
}

export class OriginalKeys {
  constructor(readonly profile: Profile) {}

  /** The key an original request is filed under. */
  keyOf(req: IsoMessage): string {
    const time = this.profile.standard === 'iso93' ? req.get(12) : req.get(7);
    return originalKey(req.mti, req.get(11) ?? '', time ?? '', req.get(32) ?? '');
  }

  /** The key the original-data field names; null without a usable one (none, malformed, or UnionPay's, which has none). */
  namedKey(msg: IsoMessage): string | null {
    const ref = this.profile.originalOf(msg);
    return ref === undefined ? null : originalKey(ref.mti, ref.stan, ref.time, ref.acquirer);
  }

  reason(rev: IsoMessage): string | undefined {
    return rev.get(this.profile.reasonField);
  }

  /**
   * The final amount of a partial reversal, n12: undefined for a full reversal, '' for
   * one that says it is partial but whose amount does not read.
   */
  partialFinal(rev: IsoMessage, originalAmount: string): string | undefined {
    switch (this.profile.standard) {
      case 'iso87':
        if (!rev.has(95)) return undefined;
        try {
          return rev.replacementAmounts()?.transaction ?? '';
        } catch (e) {
          if (!(e instanceof IsoError)) throw e;
          return '';
        }
      case 'iso93':
        return rev.get(24) === PARTIAL_REVERSAL_93 ? (rev.get(4) ?? '') : undefined;
      case 'cup': {
        const f4 = rev.get(4);
        return f4 !== undefined && f4.padStart(12, '0') < originalAmount.padStart(12, '0') ? f4.padStart(12, '0') : undefined;
      }
    }
  }

  /** What a reversal's repeat (0401/0421) shares with it, and a distinct reversal does not. */
  identity(rev: IsoMessage): string {
    const head = `${rev.mti.slice(0, 3)}|${rev.get(11) ?? ''}|${rev.get(7) ?? ''}|${this.reason(rev) ?? ''}|`;
    return this.profile.standard === 'iso87' ? head + (rev.get(95) ?? '') : head + (rev.get(4) ?? '') + '|' + (rev.get(24) ?? '');
  }
}
