/** The profile of each standard, and which one a dialect follows. */
import type { RefundOptions, ReversalOptions } from '../builders.js';
import type { Dialect } from '../dialect.js';
import type { IsoMessage } from '../message.js';
import { CUP } from './cup.js';
import { ISO87 } from './iso87.js';
import { ISO93 } from './iso93.js';
import type { Profile } from './profile.js';

export { ISO87, ISO93, CUP };
export { LOCAL_CODES, type LocalCode, type NetCode, type OriginalRef, type Profile, type Standard } from './profile.js';

const byDialect = new WeakMap<Dialect, Profile>();

/** A UnionPay POS dialect has the structured F60; otherwise the spec's version decides. */
export function profileOf(dialect: Dialect): Profile {
  let p = byDialect.get(dialect);
  if (p === undefined) {
    p = dialect.field(60)?.parts === 'cup60' ? CUP : dialect.spec.version === '1993' ? ISO93 : ISO87;
    byDialect.set(dialect, p);
  }
  return p;
}

/** The reversal of `orig` (the original request as sent upstream), as the dialect's standard builds it. */
export function reversalOf(dialect: Dialect, orig: IsoMessage, opts: ReversalOptions = {}): IsoMessage {
  return profileOf(dialect).reversalOf(dialect, orig, opts);
}

/** The refund of `orig` (a financial sale as sent upstream) as the dialect's standard builds it. */
export function refundOf(dialect: Dialect, orig: IsoMessage, opts: RefundOptions): IsoMessage {
  return profileOf(dialect).refundOf(dialect, orig, opts);
}
