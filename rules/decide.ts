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
 * Each step is a function below, and decide() at the bottom calls them in this order, after
 * checkInput(). Between timing and limits, the amounts are worked out (F95 above or equal
 * to the original settles the case there), and a review asked for by the class or by the
 * timing is made, since it proposes an amount.
 *
 * The hot path (a plain full reversal inside the window) builds no string: every string it
 * returns was built at load. Besides the result it allocates the checked input and the
 * classification, two small records; the timing inside the window is a shared constant.
 */
import { MAX_TIME_MS, dayToIso } from './business-day.js';
import type { CodeTable, Outcome } from './classify.js';
import type { CompiledRules } from './compile.js';
import { CaseError, PAN_REFUSED } from './errors.js';
import { checkCumulative, checkPartial, checkPerCardDaily, checkPromotion, type Breach } from './limits.js';
import { toMinor } from './money.js';
import { checkVelocity, type VelocityBreach } from './velocity.js';
import type { Action, Decision, DecisionCase, DecisionState, FailureClass, RuleId } from './types.js';

function result(
  action: Action, proposed: Action, cls: FailureClass, rule: RuleId, reason: string | null,
  amount: number, finalAmount: number | null, explanation: string, alert: VelocityBreach | null = null,
): Decision {
  return { action, proposed, class: cls, rule, reason, amount, finalAmount, explanation, alert };
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

/** The case and the state, checked, with every amount in minor units. */
interface Checked {
  readonly kind: 1 | 2 | 4;
  readonly originalTime: number;
  readonly now: number;
  readonly amount: number;
  /** F95; null for a full undo. */
  readonly finalAmount: number | null;
  readonly refundedSoFar: number;
  readonly terminalUndos: number;
  readonly merchantUndos: number;
  readonly cardUndos: number;
  readonly cardRefundsToday: number;
  readonly cardRefundAmountToday: number;
}

/**
 * Every field is checked before any rule is weighed, so a malformed case is refused the
 * same way whatever it would have decided, and the first bad field (in this order) is the
 * one named. A PAN is refused before anything else is read.
 */
function checkInput(c: DecisionCase, s: DecisionState): Checked {
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
  return {
    kind, originalTime, now, amount, finalAmount, refundedSoFar,
    terminalUndos, merchantUndos, cardUndos, cardRefundsToday, cardRefundAmountToday,
  };
}

/** Step 1's finding: which outcome governs the case. */
interface Classified {
  readonly o: Outcome;
  /** The original (x2xx) debited the funds; an authorization (x1xx) only held them. */
  readonly financial: boolean;
  /** '' unless a response overrode the event: "event undeliverable follows response 05 (...), which was not an approval, so the response governs: " */
  readonly lead: string;
  /** A duplicate answer (94) that came with an event which does not follow an approval; o is then the event. */
  readonly doubtfulDuplicate: Outcome | null;
}

function classified(o: Outcome, financial: boolean, lead: string, doubtfulDuplicate: Outcome | null): Classified {
  return { o, financial, lead, doubtfulDuplicate };
}

/**
 * 1. What happened, in this link's code table (upstream over dialect over base). When an
 * event and a response both arrive, the event governs, with two exceptions: an event that
 * only follows an approval (undeliverable, chip decline, cancel) defers to a response that
 * was no approval, and a duplicate answer with any other event is kept aside for
 * classPolicy(). Contradictory fields are refused, never guessed.
 */
function classifyCase(r: CompiledRules, c: DecisionCase, kind: 1 | 2 | 4): Classified {
  const table = r.classifier.table(c.upstream, c.dialect);
  if (kind === 4) return classifyReversal(table, c);
  if (c.originalMti !== undefined) throw new CaseError('originalMti', 'only for a reversal (x4xx); the MTI of a posting is mti itself');
  const financial = kind === 2;
  if (c.event === undefined) {
    if (c.responseCode === undefined) throw new CaseError('responseCode', 'expected responseCode or event');
    return classified(table.response(checkCode(c.responseCode, 'responseCode')), financial, '', null);
  }
  const ev = table.event(c.event);
  if (ev === undefined) throw new CaseError('event', `expected one of ${r.eventNames}`);
  if (c.responseCode === undefined) return classified(ev, financial, '', null);
  const resp = table.response(checkCode(c.responseCode, 'responseCode'));
  if (resp.cls === 'duplicate' && !ev.afterApproval) return classified(ev, financial, '', resp);
  if (ev.afterApproval && resp.cls !== 'approved') {
    return classified(resp, financial, `event ${ev.code} follows ${resp.subject}, which was not an approval, so the response governs: `, null);
  }
  return classified(ev, financial, '', null);
}

/** A terminal's own reversal (x4xx) carries its reason in responseCode and names the original's MTI. */
function classifyReversal(table: CodeTable, c: DecisionCase): Classified {
  if (c.event !== undefined) throw new CaseError('event', 'a reversal (x4xx) carries its reason in responseCode, not an event');
  if (c.originalMti === undefined) {
    throw new CaseError('originalMti', 'required for a reversal (x4xx): x1xx if the original only held funds, x2xx if it debited them');
  }
  const original = messageClass(c.originalMti, 'originalMti');
  if (original === 4) throw new CaseError('originalMti', 'expected the MTI of the original authorization (x1xx) or financial message (x2xx), not a reversal');
  if (c.responseCode === undefined) throw new CaseError('responseCode', 'required for a reversal (x4xx): its reason code');
  return classified(table.reversal(checkCode(c.responseCode, 'responseCode')), original === 2, '', null);
}

/**
 * 1. What the class alone settles, before timing or amounts are looked at: a duplicate is
 * never reversed, since the reversal would carry the keys of the real original and undo it;
 * a decline held nothing; fraud goes to a person with no undo proposed. Returns null when
 * the class asks for an undo (or for a review of one, which needs the amount: see decide()).
 */
function classPolicy(k: Classified): Decision | null {
  const o = k.o;
  if (k.doubtfulDuplicate !== null) {
    // A late or unverifiable "duplicate" answer: the reversal the event calls for would
    // carry the keys of the real original, so no automatic reversal in either direction.
    return result('review', 'none', 'duplicate', 'never-reverse-duplicate', null, 0, null,
      `${k.doubtfulDuplicate.subject} is duplicate, with event ${o.code}: a reversal is never automatic, since it could undo the real original; ` +
      'a person must check whether one was already sent');
  }
  if (o.action === 'none') {
    return result('none', 'none', o.cls, o.cls === 'duplicate' ? 'never-reverse-duplicate' : 'class-policy', null, 0, null, k.lead + o.policyText);
  }
  if (o.action === 'review' && !o.fundsMayBeHeld) {
    return result('review', 'none', o.cls, o.cls === 'duplicate' ? 'never-reverse-duplicate' : 'class-policy', null, 0, null, k.lead + o.policyText);
  }
  return null;
}

/** Step 2's finding: which undo the timing allows. */
interface Timing {
  /** A reversal inside the window; a refund once a financial original has settled. */
  readonly auto: 'reverse' | 'refund';
  /** The timing alone sends the undo to a person (an authorization out of the window, or the file says so). */
  readonly escalate: boolean;
  readonly rule: RuleId;
  /** Why it is no longer a reversal; '' inside the window. */
  readonly text: string;
}

/** The common case, shared: a reversal is still possible. */
const IN_WINDOW: Timing = { auto: 'reverse', escalate: false, rule: 'automatic-undo', text: '' };

/**
 * 2. The issuer matches a reversal only while the original is unsettled: until its business
 * date closes (plus any grace business days) and within the card-present / card-not-present
 * age window. The business day is weighed first.
 */
function timing(r: CompiledRules, originalTime: number, now: number, cardPresent: boolean, financial: boolean): Timing {
  const cal = r.calendar;
  const bdOriginal = cal.businessDay(originalTime);
  const bdNow = cal.businessDay(now);
  const lastReversible = r.graceDays === 0 ? bdOriginal : cal.addWorkingDays(bdOriginal, r.graceDays);
  if (bdNow > lastReversible) {
    const grace = r.graceDays === 0 ? '' : ` and its ${r.graceDays} grace business day(s) have`;
    return tooLate(
      'business-day.settled', financial, r.afterSettlement, 'settlement.afterSettlement',
      `the original's business date ${dayToIso(bdOriginal)}${grace} closed before now's business date ${dayToIso(bdNow)} ` +
        `(cutover ${cal.cutover} ${cal.timeZone}), so a reversal is no longer possible`,
      'an authorization was never cleared, so a refund would credit money never debited: a person must decide',
    );
  }
  const maxAge = cardPresent ? r.maxAgeCardPresentMs : r.maxAgeCardNotPresentMs;
  if (now - originalTime <= maxAge) return IN_WINDOW;
  return tooLate(
    'max-age', financial, r.afterMaxAge, 'settlement.afterMaxAge',
    `the original is ${((now - originalTime) / 3_600_000).toFixed(1)} h old, beyond the ${maxAge / 3_600_000} h ` +
      `${cardPresent ? 'card-present' : 'card-not-present'} reversal window`,
    'the issuer may have dropped the hold, and a refund would credit money never debited: a person must decide',
  );
}

/**
 * Past the window, a financial original's debit can only be given back as a refund (0220),
 * or sent to review if the file says so. An authorization was never cleared, so a refund
 * would credit money never debited: a person decides, with the late reversal proposed.
 */
function tooLate(
  rule: RuleId, financial: boolean, after: 'refund' | 'review', setting: string, why: string, authorizationText: string,
): Timing {
  if (!financial) return { auto: 'reverse', escalate: true, rule, text: `${why}; ${authorizationText}` };
  const escalate = after === 'review';
  return {
    auto: 'refund', escalate, rule,
    text: escalate ? `${why}; ${setting} sends the refund to review` : `${why}; the undo is a refund (0220, processing code 20)`,
  };
}

/**
 * Amounts: an F95 above the original would undo a negative amount, so a person looks; an
 * F95 equal to it leaves nothing to undo. Returns null when there is something to give back.
 */
function finalAmountPolicy(k: Classified, auto: 'reverse' | 'refund', amount: number, finalAmount: number | null): Decision | null {
  if (finalAmount === null) return null;
  const o = k.o;
  const breach = checkPartial(amount, finalAmount);
  if (breach) return result('review', auto, o.cls, breach.rule, auto === 'reverse' ? o.reason : null, 0, null, `${k.lead}${o.because}; ${breach.text}`);
  if (finalAmount === amount) {
    return result('none', 'none', o.cls, 'nothing-to-undo', null, 0, null, `${k.lead}${o.because}; but the final amount (F95) equals the original ${amount}, so nothing is left to undo`);
  }
  return null;
}

/** What the undo gives back: F95 is the final amount the cardholder pays, not the amount undone. */
function undoAmount(amount: number, finalAmount: number | null): number {
  return finalAmount === null ? amount : amount - finalAmount;
}

/** "the full 12550", or "10000 of 12550 (F95 final amount 2550)". Built only when an explanation needs it. */
function describeUndo(v: Checked, undo: number): string {
  return v.finalAmount !== null ? `${undo} of ${v.amount} (F95 final amount ${v.finalAmount})` : `the full ${v.amount}`;
}

/** The reversal reason goes with a reversal only, proposed or not. */
function reasonOf(k: Classified, t: Timing): string | null {
  return t.auto === 'reverse' ? k.o.reason : null;
}

/**
 * A review that proposes the undo a person may approve:
 * "<lead><head>; <timing>; <why>; proposed: refund 10000 of 12550 (F95 final amount 2550)".
 */
function proposeReview(k: Classified, t: Timing, v: Checked, undo: number, rule: RuleId, why: string | null, head: string = k.o.because): Decision {
  const timingText = t.text === '' ? '' : t.text + '; ';
  const whyText = why === null ? '' : why + '; ';
  return result('review', t.auto, k.o.cls, rule, reasonOf(k, t), undo, v.finalAmount,
    `${k.lead}${head}; ${timingText}${whyText}proposed: ${t.auto} ${describeUndo(v, undo)}`);
}

/**
 * 3. Caps on what is given back automatically (domain.md §5): never more than the original
 * in all (cumulative refunds), the per-card daily count and amount, a promotion's minimum
 * spend. A breach goes to review, never through and never trimmed. The caps gate refunds
 * and must never hold back a mandatory reversal: the card cap is weighed for refunds only,
 * and a full reversal passes the other two (nothing was given back before, and a full undo
 * leaves nothing below a minimum spend). A partial reversal (F95), or one after earlier
 * refunds, can still breach those two and go to review; that is kept as it was.
 */
function limitBreach(r: CompiledRules, c: DecisionCase, v: Checked, auto: 'reverse' | 'refund', undo: number): Breach | null {
  return (
    checkCumulative(v.amount, v.refundedSoFar, undo) ??
    (auto === 'refund' ? checkPerCardDaily(r.limits, c.currency, c.panHash, v.cardRefundsToday, v.cardRefundAmountToday, undo) : null) ??
    (c.promotion !== undefined ? checkPromotion(r.limits, c.promotion, c.currency, v.amount - v.refundedSoFar - undo) : null)
  );
}

/**
 * 4. A storm of automatic undos from one terminal, merchant or card is a fraud or fault
 * signal, so past a threshold a person looks. It gates refunds, which credit money; a
 * reversal only releases a hold the cardholder got nothing for, and the network obliges
 * us to send it, so on a reversal a breach is an alert and the reversal goes out
 * (domain.md §5). Returns the breach (its scopes and the text with every count), or null.
 */
function velocityBreach(r: CompiledRules, v: Checked): VelocityBreach | null {
  return checkVelocity(r.velocity, v.terminalUndos, v.merchantUndos, v.cardUndos);
}

/**
 * No rule held it back: the undo goes out. A plain full reversal gets the text built at
 * load. `alert`: a velocity breach on a reversal, said in the explanation and the decision.
 */
function automaticUndo(k: Classified, t: Timing, v: Checked, undo: number, alert: VelocityBreach | null): Decision {
  const o = k.o;
  const reason = reasonOf(k, t);
  if (v.finalAmount === null && t.text === '' && k.lead === '' && alert === null) return result('reverse', 'reverse', o.cls, t.rule, reason, undo, null, o.fullReverseText);
  const how = t.auto === 'reverse' ? `reverse ${describeUndo(v, undo)} with reason ${reason}` : `refund ${describeUndo(v, undo)}`;
  const alerted = alert === null ? '' : `${alert.text}: alert only, a reversal is never held back; `;
  return result(t.auto, t.auto, o.cls, t.rule, reason, undo, v.finalAmount, `${k.lead}${o.because}; ${t.text ? t.text + '; ' : ''}${alerted}${how}`, alert);
}

export function decide(r: CompiledRules, c: DecisionCase, s: DecisionState): Decision {
  const v = checkInput(c, s);

  // ---- 1. classification and class policy
  const k = classifyCase(r, c, v.kind);
  const byClass = classPolicy(k);
  if (byClass !== null) return byClass;

  // ---- 2. timing: can it still be a reversal?
  const t = timing(r, v.originalTime, v.now, c.cardPresent !== false, k.financial);

  // ---- amounts: what the undo gives back
  const byFinalAmount = finalAmountPolicy(k, t.auto, v.amount, v.finalAmount);
  if (byFinalAmount !== null) return byFinalAmount;
  const undo = undoAmount(v.amount, v.finalAmount);
  // The class (funds may be held, but a person decides) or the timing asks for a person;
  // now that the amount is known, the review proposes the undo.
  if (k.o.action === 'review') return proposeReview(k, t, v, undo, 'class-policy', null, k.o.policyText);
  if (t.escalate) return proposeReview(k, t, v, undo, t.rule, null);

  // ---- 3. limits
  const breach = limitBreach(r, c, v, t.auto, undo);
  if (breach !== null) return proposeReview(k, t, v, undo, breach.rule, breach.text);

  // ---- 4. velocity
  const fast = velocityBreach(r, v);
  if (fast !== null && t.auto === 'refund') return proposeReview(k, t, v, undo, 'velocity', fast.text);

  return automaticUndo(k, t, v, undo, fast);
}
