/**
 * decide(): what happens to the cardholder's funds after one failed (or doubtful) posting.
 *
 * The rules are weighed in this order, and the first that settles the case names itself
 * in `rule`:
 *   1. the class policy: a duplicate is never reversed (not even when a timeout, late
 *      or MAC-failure event comes with a 94: that goes to review); declines need nothing;
 *      fraud is flagged for review with no reversal. An event that only follows an
 *      approval (undeliverable, chip decline, cancel) defers to a non-approval response;
 *   2. timing: once the original's business date has closed (plus any grace business
 *      days), or the original is older than the card-present / card-not-present window,
 *      a reversal is no longer possible. A financial original (x2xx) debited the funds, so
 *      the undo becomes a refund (or review, if the file says so). An authorization (x1xx)
 *      was never cleared, so a refund would credit money never debited: always review;
 *   3. limits: F95 above the original, cumulative refunds above the original, the
 *      per-card daily cap on automatic refunds, a promotion's minimum spend;
 *   4. velocity of automatic undos per terminal, merchant and card.
 *
 * The hot path (a plain full reversal inside the window) allocates only the result: every
 * string it returns was built at load.
 */
import { MAX_TIME_MS, dayToIso } from './business-day.js';
import type { Outcome } from './classify.js';
import type { CompiledRules } from './compile.js';
import { CaseError, PAN_REFUSED } from './errors.js';
import { checkCumulative, checkPartial, checkPerCardDaily, checkPromotion } from './limits.js';
import { toMinor } from './money.js';
import { checkVelocity } from './velocity.js';
import type { Action, Decision, DecisionCase, DecisionState, FailureClass, RuleId } from './types.js';

function result(
  action: Action, proposed: Action, cls: FailureClass, rule: RuleId, reason: string | null,
  amount: number, finalAmount: number | null, explanation: string,
): Decision {
  return { action, proposed, class: cls, rule, reason, amount, finalAmount, explanation };
}

/** 1 (authorization), 2 (financial) or 4 (reversal), from the MTI's class digit. */
function messageClass(mti: unknown, path: string): 1 | 2 | 4 {
  if (typeof mti === 'string' && mti.length === 4) {
    let digits = true;
    for (let i = 0; i < 4; i++) {
      const c = mti.charCodeAt(i);
      if (c < 48 || c > 57) digits = false;
    }
    const version = mti.charCodeAt(0);
    const cls = mti.charCodeAt(1);
    if (digits && version <= 50 /* 0, 1 or 2 */) {
      if (cls === 49) return 1;
      if (cls === 50) return 2;
      if (cls === 52) return 4;
    }
  }
  throw new CaseError(path, 'expected a 4-digit MTI of an authorization (x1xx), a financial message (x2xx) or a reversal (x4xx)');
}

/** F39 is 2 characters (UnionPay uses A0), a 1993 action code 3 digits, a 1993 reason (F25) 4 digits. */
function checkCode(code: unknown, path: string): string {
  if (typeof code === 'string' && code.length >= 2 && code.length <= 4) {
    let ok = true;
    for (let i = 0; i < code.length; i++) if (!isCodeChar(code.charCodeAt(i))) ok = false;
    if (ok) return code;
  }
  throw new CaseError(path, 'expected a code of 2 to 4 digits or capital letters, such as "05", "A0", "911" or "4021"');
}

function isCodeChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
}

function checkTime(ms: unknown, path: string): number {
  if (typeof ms === 'number' && Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME_MS) return ms;
  throw new CaseError(path, 'expected epoch milliseconds (a finite number)');
}

function checkCount(n: unknown, path: string): number {
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  throw new CaseError(path, 'expected a non-negative integer count');
}

function checkCurrency(c: unknown): void {
  if (typeof c === 'string' && c.length === 3) {
    const a = c.charCodeAt(0), b = c.charCodeAt(1), d = c.charCodeAt(2);
    if (a >= 48 && a <= 57 && b >= 48 && b <= 57 && d >= 48 && d <= 57) return;
  }
  throw new CaseError('currency', 'expected an ISO 4217 numeric currency code of 3 digits');
}

function optionalString(v: unknown, path: string): void {
  if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > 128)) {
    throw new CaseError(path, 'expected a string of 1 to 128 characters');
  }
}

/** A keyed hash is never 12 to 19 plain digits; a PAN always is. */
function checkPanHash(h: unknown): void {
  if (h === undefined) return;
  optionalString(h, 'panHash');
  const s = h as string;
  if (s.length < 12 || s.length > 19) return;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return;
  }
  throw new CaseError('panHash', 'looks like a PAN (12 to 19 digits); pass a keyed hash of the PAN, never the PAN');
}

export function decide(r: CompiledRules, c: DecisionCase, s: DecisionState): Decision {
  if ((c as { pan?: unknown }).pan !== undefined) throw new CaseError('pan', PAN_REFUSED);
  const kind = messageClass(c.mti, 'mti');
  checkCurrency(c.currency);
  const originalTime = checkTime(c.originalTime, 'originalTime');
  const now = checkTime(c.now, 'now');
  optionalString(c.dialect, 'dialect');
  optionalString(c.upstream, 'upstream');
  optionalString(c.promotion, 'promotion');
  checkPanHash(c.panHash);
  if (c.cardPresent !== undefined && typeof c.cardPresent !== 'boolean') throw new CaseError('cardPresent', 'expected true or false');
  const terminalUndos = checkCount(s.terminalUndos, 'state.terminalUndos');
  const merchantUndos = checkCount(s.merchantUndos, 'state.merchantUndos');
  const cardUndos = checkCount(s.cardUndos, 'state.cardUndos');
  const cardRefundsToday = checkCount(s.cardRefundsToday, 'state.cardRefundsToday');
  const cardRefundAmountToday = toMinor(s.cardRefundAmountToday, 'state.cardRefundAmountToday');
  const amount = toMinor(c.amount, 'amount');
  const finalAmount = c.finalAmount === undefined ? null : toMinor(c.finalAmount, 'finalAmount');
  const refundedSoFar = c.refundedSoFar === undefined ? 0 : toMinor(c.refundedSoFar, 'refundedSoFar');

  // ---- 1. classification and class policy
  const table = r.classifier.table(c.upstream, c.dialect);
  let o: Outcome;
  let financial: boolean;
  let lead = '';
  if (kind === 4) {
    if (c.event !== undefined) throw new CaseError('event', 'a reversal (x4xx) carries its reason in responseCode, not an event');
    if (c.originalMti === undefined) {
      throw new CaseError('originalMti', 'required for a reversal (x4xx): x1xx if the original only held funds, x2xx if it debited them');
    }
    const ok = messageClass(c.originalMti, 'originalMti');
    if (ok === 4) throw new CaseError('originalMti', 'expected the MTI of the original authorization (x1xx) or financial message (x2xx), not a reversal');
    financial = ok === 2;
    if (c.responseCode === undefined) throw new CaseError('responseCode', 'required for a reversal (x4xx): its reason code');
    o = table.reversal(checkCode(c.responseCode, 'responseCode'));
  } else {
    if (c.originalMti !== undefined) throw new CaseError('originalMti', 'only for a reversal (x4xx); the MTI of a posting is mti itself');
    financial = kind === 2;
    if (c.event !== undefined) {
      const ev = table.event(c.event);
      if (ev === undefined) throw new CaseError('event', `expected one of ${r.eventNames}`);
      o = ev;
      if (c.responseCode !== undefined) {
        const resp = table.response(checkCode(c.responseCode, 'responseCode'));
        if (resp.cls === 'duplicate' && !ev.afterApproval) {
          // A late or unverifiable "duplicate" answer: the reversal the event calls for would
          // carry the keys of the real original, so no automatic reversal in either direction.
          return result('review', 'none', 'duplicate', 'never-reverse-duplicate', null, 0, null,
            `${resp.subject} is duplicate, with event ${ev.code}: a reversal is never automatic, since it could undo the real original; ` +
            'a person must check whether one was already sent');
        }
        if (ev.afterApproval && resp.cls !== 'approved') {
          o = resp;
          lead = `event ${ev.code} follows ${resp.subject}, which was not an approval, so the response governs: `;
        }
      }
    } else if (c.responseCode !== undefined) {
      o = table.response(checkCode(c.responseCode, 'responseCode'));
    } else {
      throw new CaseError('responseCode', 'expected responseCode or event');
    }
  }
  const cls = o.cls;
  if (o.action === 'none') {
    return result('none', 'none', cls, cls === 'duplicate' ? 'never-reverse-duplicate' : 'class-policy', null, 0, null, lead + o.policyText);
  }
  if (o.action === 'review' && !o.fundsMayBeHeld) {
    return result('review', 'none', cls, cls === 'duplicate' ? 'never-reverse-duplicate' : 'class-policy', null, 0, null, lead + o.policyText);
  }

  // ---- 2. timing: can it still be a reversal?
  let auto: 'reverse' | 'refund' = 'reverse';
  let escalate = false;
  let rule: RuleId = 'automatic-undo';
  let timing = '';
  const cal = r.calendar;
  const bdOriginal = cal.businessDay(originalTime);
  const bdNow = cal.businessDay(now);
  const lastReversible = r.graceDays === 0 ? bdOriginal : cal.addWorkingDays(bdOriginal, r.graceDays);
  if (bdNow > lastReversible) {
    rule = 'business-day.settled';
    const grace = r.graceDays === 0 ? '' : ` and its ${r.graceDays} grace business day(s) have`;
    timing = `the original's business date ${dayToIso(bdOriginal)}${grace} closed before now's business date ${dayToIso(bdNow)} ` +
      `(cutover ${cal.cutover} ${cal.timeZone}), so a reversal is no longer possible`;
    if (financial) {
      auto = 'refund';
      escalate = r.afterSettlement === 'review';
      timing += escalate ? '; settlement.afterSettlement sends the refund to review' : '; the undo is a refund (0220, processing code 20)';
    } else {
      escalate = true;
      timing += '; an authorization was never cleared, so a refund would credit money never debited: a person must decide';
    }
  } else {
    const cardPresent = c.cardPresent !== false;
    const maxAge = cardPresent ? r.maxAgeCardPresentMs : r.maxAgeCardNotPresentMs;
    if (now - originalTime > maxAge) {
      rule = 'max-age';
      timing = `the original is ${((now - originalTime) / 3_600_000).toFixed(1)} h old, beyond the ${maxAge / 3_600_000} h ` +
        `${cardPresent ? 'card-present' : 'card-not-present'} reversal window`;
      if (financial) {
        auto = 'refund';
        escalate = r.afterMaxAge === 'review';
        timing += escalate ? '; settlement.afterMaxAge sends the refund to review' : '; the undo is a refund (0220, processing code 20)';
      } else {
        escalate = true;
        timing += '; the issuer may have dropped the hold, and a refund would credit money never debited: a person must decide';
      }
    }
  }

  // ---- amounts: what the undo gives back (F95 is the final amount, not the amount undone)
  let undo = amount;
  if (finalAmount !== null) {
    const breach = checkPartial(amount, finalAmount);
    if (breach) return result('review', auto, cls, breach.rule, auto === 'reverse' ? o.reason : null, 0, null, `${lead}${o.because}; ${breach.text}`);
    if (finalAmount === amount) {
      return result('none', 'none', cls, 'nothing-to-undo', null, 0, null, `${lead}${o.because}; but the final amount (F95) equals the original ${amount}, so nothing is left to undo`);
    }
    undo = amount - finalAmount;
  }
  const partial = finalAmount !== null;
  const reason = auto === 'reverse' ? o.reason : null;
  const fin = partial ? finalAmount : null;
  const what = partial ? `${undo} of ${amount} (F95 final amount ${finalAmount})` : `the full ${amount}`;

  if (o.action === 'review') {
    return result('review', auto, cls, 'class-policy', reason, undo, fin, `${lead}${o.policyText}${timing ? '; ' + timing : ''}; proposed: ${auto} ${what}`);
  }
  if (escalate) return result('review', auto, cls, rule, reason, undo, fin, `${lead}${o.because}; ${timing}; proposed: ${auto} ${what}`);

  // ---- 3. limits
  const breach =
    checkCumulative(amount, refundedSoFar, undo) ??
    (auto === 'refund' ? checkPerCardDaily(r.limits, c.currency, c.panHash, cardRefundsToday, cardRefundAmountToday, undo) : null) ??
    (c.promotion !== undefined ? checkPromotion(r.limits, c.promotion, c.currency, amount - refundedSoFar - undo) : null);
  if (breach) {
    return result('review', auto, cls, breach.rule, reason, undo, fin, `${lead}${o.because}; ${timing ? timing + '; ' : ''}${breach.text}; proposed: ${auto} ${what}`);
  }

  // ---- 4. velocity
  const fast = checkVelocity(r.velocity, terminalUndos, merchantUndos, cardUndos);
  if (fast !== null) {
    return result('review', auto, cls, 'velocity', reason, undo, fin, `${lead}${o.because}; ${timing ? timing + '; ' : ''}${fast}; proposed: ${auto} ${what}`);
  }

  if (!partial && timing === '' && lead === '') return result('reverse', 'reverse', cls, rule, reason, undo, null, o.fullReverseText);
  const how = auto === 'reverse' ? `reverse ${what} with reason ${reason}` : `refund ${what}`;
  return result(auto, auto, cls, rule, reason, undo, fin, `${lead}${o.because}; ${timing ? timing + '; ' : ''}${how}`);
}
