/**
 * Classification and the class-level decision, one row per response code, reversal
 * reason and local event. The expected values are written out here from domain.md §1,
 * not read from rules/default.yaml, so a wrong edit of the file fails a row.
 */
import t, { type Test } from 'tap';
import { CaseError, decide, loadDefaultRules, type DecisionCase, type DecisionState, type FailureClass, type LocalEvent } from '../rules/index.js';

const rules = loadDefaultRules();
const T0 = Date.parse('2025-03-05T10:00:00+01:00'); // a Wednesday, a working day
const ZERO: DecisionState = { terminalUndos: 0, merchantUndos: 0, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 };

function sale(extra: Partial<DecisionCase>): DecisionCase {
  return { mti: '0200', amount: '000000010000', currency: '978', originalTime: T0, now: T0 + 20_000, ...extra };
}

type Row = [code: string, cls: FailureClass, action: 'none' | 'review' | 'reverse', reason: string | null];

// ISO 8583:1987 response codes (domain.md §1 and the seed article's causes).
const BASE: Row[] = [
  ['00', 'approved', 'none', null],
  ['08', 'approved', 'none', null],
  ['10', 'approved', 'none', null],
  ['11', 'approved', 'none', null],
  ['16', 'approved', 'none', null],
  ['01', 'declined', 'none', null],
  ['05', 'declined', 'none', null],
  ['57', 'declined', 'none', null],
  ['58', 'declined', 'none', null],
  ['62', 'declined', 'none', null],
  ['75', 'declined', 'none', null],
  ['51', 'insufficient_funds', 'none', null],
  ['61', 'insufficient_funds', 'none', null],
  ['65', 'insufficient_funds', 'none', null],
  ['03', 'input_error', 'none', null],
  ['12', 'input_error', 'none', null],
  ['13', 'input_error', 'none', null],
  ['14', 'input_error', 'none', null],
  ['30', 'input_error', 'none', null],
  ['54', 'input_error', 'none', null],
  ['55', 'input_error', 'none', null],
  ['04', 'fraud_suspect', 'review', null],
  ['07', 'fraud_suspect', 'review', null],
  ['34', 'fraud_suspect', 'review', null],
  ['41', 'fraud_suspect', 'review', null],
  ['43', 'fraud_suspect', 'review', null],
  ['59', 'fraud_suspect', 'review', null],
  ['63', 'fraud_suspect', 'review', null],
  ['06', 'technical_unknown', 'reverse', '06'],
  ['09', 'technical_unknown', 'reverse', '06'],
  ['19', 'technical_unknown', 'reverse', '06'],
  ['22', 'technical_unknown', 'reverse', '06'],
  ['96', 'technical_unknown', 'reverse', '06'],
  ['68', 'timeout', 'reverse', '68'],
  ['90', 'issuer_outage', 'reverse', '06'],
  ['91', 'issuer_outage', 'reverse', '06'],
  ['92', 'issuer_outage', 'reverse', '06'],
  ['94', 'duplicate', 'none', null],
];

// ISO 8583:1993 action codes (3 digits) in the iso93a dialect; reversal reasons go in F25.
const ISO93: Row[] = [
  ['000', 'approved', 'none', null],
  ['001', 'approved', 'none', null],
  ['002', 'approved', 'none', null],
  ['003', 'approved', 'none', null],
  ['100', 'declined', 'none', null],
  ['104', 'declined', 'none', null],
  ['106', 'declined', 'none', null],
  ['107', 'declined', 'none', null],
  ['119', 'declined', 'none', null],
  ['120', 'declined', 'none', null],
  ['116', 'insufficient_funds', 'none', null],
  ['121', 'insufficient_funds', 'none', null],
  ['123', 'insufficient_funds', 'none', null],
  ['101', 'input_error', 'none', null],
  ['109', 'input_error', 'none', null],
  ['110', 'input_error', 'none', null],
  ['111', 'input_error', 'none', null],
  ['117', 'input_error', 'none', null],
  ['902', 'input_error', 'none', null],
  ['904', 'input_error', 'none', null],
  ['102', 'fraud_suspect', 'review', null],
  ['122', 'fraud_suspect', 'review', null],
  ['129', 'fraud_suspect', 'review', null],
  ['200', 'fraud_suspect', 'review', null],
  ['202', 'fraud_suspect', 'review', null],
  ['208', 'fraud_suspect', 'review', null],
  ['209', 'fraud_suspect', 'review', null],
  ['903', 'technical_unknown', 'reverse', '4002'],
  ['909', 'technical_unknown', 'reverse', '4002'],
  ['923', 'technical_unknown', 'reverse', '4002'],
  ['911', 'timeout', 'reverse', '4021'],
  ['906', 'issuer_outage', 'reverse', '4002'],
  ['907', 'issuer_outage', 'reverse', '4002'],
  ['908', 'issuer_outage', 'reverse', '4002'],
  ['910', 'issuer_outage', 'reverse', '4002'],
  ['912', 'issuer_outage', 'reverse', '4002'],
  ['913', 'duplicate', 'none', null],
];

// The same decision whatever dialect carried it, with the dialect's own reason codes.
const CUP: Row[] = [
  ['98', 'timeout', 'reverse', '98'], // the brief's example: UnionPay's 98 is a timeout
  ['68', 'timeout', 'reverse', '98'],
  ['A0', 'input_error', 'none', null], // the host refused our request's MAC: nothing posted
  ['96', 'technical_unknown', 'reverse', '06'],
  ['05', 'declined', 'none', null],
  ['94', 'duplicate', 'none', null],
];

type EventRow = [event: LocalEvent, cls: FailureClass, base: string, cup: string, iso93: string];
const EVENTS: EventRow[] = [
  ['timeout', 'timeout', '68', '98', '4021'],
  ['connection_lost', 'technical_unknown', '06', '06', '4002'],
  ['late', 'late', '68', '98', '4021'],
  ['undeliverable', 'undeliverable', '06', '96', '4013'],
  ['mac_failure', 'mac_failure', '06', 'A0', '4020'],
  ['format_error', 'technical_unknown', '06', '06', '4002'],
  ['chip_decline', 'chip_decline', '06', '06', '4007'],
  ['customer_cancel', 'customer_cancel', '17', '06', '4000'],
];

type ReasonRow = [code: string, dialect: string | undefined, cls: FailureClass, reason: string];
// A terminal-initiated 0400: its reason code says why; the reason forwarded is the link dialect's.
const REVERSAL_REASONS: ReasonRow[] = [
  ['68', undefined, 'timeout', '68'],
  ['98', undefined, 'timeout', '68'],
  ['96', undefined, 'undeliverable', '06'],
  ['A0', undefined, 'mac_failure', '06'],
  ['06', undefined, 'chip_decline', '06'],
  ['17', undefined, 'customer_cancel', '17'],
  ['32', undefined, 'customer_cancel', '17'],
  ['22', undefined, 'technical_unknown', '06'],
  ['98', 'cup', 'timeout', '98'],
  ['96', 'cup', 'undeliverable', '96'],
  ['A0', 'cup', 'mac_failure', 'A0'],
  ['06', 'cup', 'chip_decline', '06'],
  ['4000', 'iso93a', 'customer_cancel', '4000'],
  ['4002', 'iso93a', 'technical_unknown', '4002'],
  ['4004', 'iso93a', 'customer_cancel', '4000'],
  ['4006', 'iso93a', 'timeout', '4021'],
  ['4007', 'iso93a', 'chip_decline', '4007'],
  ['4013', 'iso93a', 'undeliverable', '4013'],
  ['4020', 'iso93a', 'mac_failure', '4020'],
  ['4021', 'iso93a', 'timeout', '4021'],
];

function checkRow(tt: Test, row: Row, dialect: string | undefined): void {
  const [code, cls, action, reason] = row;
  const where = `${dialect ?? 'base'} ${code}`;
  const c = rules.classify({ responseCode: code, dialect });
  tt.equal(c.class, cls, `${where}: class`);
  const d = decide(rules, sale({ responseCode: code, dialect }), ZERO);
  tt.equal(d.class, cls, `${where}: decision class`);
  tt.equal(d.action, action, `${where}: action`);
  tt.equal(d.reason, reason, `${where}: reason`);
  tt.equal(d.amount, action === 'reverse' ? 10000 : 0, `${where}: amount`);
  tt.equal(d.proposed, action === 'review' ? 'none' : action, `${where}: proposed`);
  tt.ok(d.explanation.includes(`response ${code}`) && d.explanation.includes(cls), `${where}: explanation names the code and class`);
}

t.test('every ISO 8583:1987 response code in the domain table', async (tt) => {
  for (const row of BASE) checkRow(tt, row, undefined);
  const listed = rules.classifier.base.codes('response').map((o) => o.code).sort();
  tt.same(listed, BASE.map((r) => r[0]).sort(), 'the default file lists exactly the codes of this table');
});

t.test('every ISO 8583:1993 action code in the iso93a dialect', async (tt) => {
  for (const row of ISO93) checkRow(tt, row, 'iso93a');
  const baseCodes = new Set(BASE.map((r) => r[0]));
  const own = rules.classifier.table(undefined, 'iso93a').codes('response').map((o) => o.code).filter((c) => !baseCodes.has(c)).sort();
  tt.same(own, ISO93.map((r) => r[0]).sort(), 'the dialect lists exactly the codes of this table');
});

t.test('UnionPay (cup) overrides: 98 is a timeout, reasons are UnionPay codes', async (tt) => {
  for (const row of CUP) checkRow(tt, row, 'cup');
  tt.equal(decide(rules, sale({ responseCode: '98' }), ZERO).reason, '06', 'without the cup dialect, 98 is an unknown code (technical_unknown, 06)');
  tt.equal(decide(rules, sale({ responseCode: '98' }), ZERO).class, 'technical_unknown');
});

t.test('an upstream override wins over the base table, and applies with a dialect too', async (tt) => {
  tt.equal(decide(rules, sale({ responseCode: 'N7', upstream: 'visa' }), ZERO).action, 'none', 'N7 on the visa link is a decline');
  tt.equal(decide(rules, sale({ responseCode: 'N7', upstream: 'visa', dialect: 'cup' }), ZERO).action, 'none', 'upstream on top of a dialect');
  tt.equal(decide(rules, sale({ responseCode: 'N7' }), ZERO).action, 'reverse', 'elsewhere N7 is unknown: reverse, which is harmless');
  tt.equal(decide(rules, sale({ responseCode: '98', upstream: 'visa', dialect: 'cup' }), ZERO).reason, '98', 'the dialect layer stays under the upstream one');
  tt.equal(decide(rules, sale({ responseCode: '05', upstream: 'no-such-link' }), ZERO).class, 'declined', 'an unknown upstream gets the base table');
});

t.test('an unknown response code is an unknown outcome: reverse, and say so', async (tt) => {
  const d = decide(rules, sale({ responseCode: 'Q1' }), ZERO);
  tt.equal(d.class, 'technical_unknown');
  tt.equal(d.action, 'reverse');
  tt.match(d.explanation, /response Q1 \(not in the rules file\) is taken as technical_unknown/);
});

t.test('every local event, with each dialect\'s reversal reason', async (tt) => {
  for (const [event, cls, base, cup, iso93] of EVENTS) {
    for (const [dialect, reason] of [[undefined, base], ['cup', cup], ['iso93a', iso93]] as const) {
      const d = decide(rules, sale({ event, dialect }), ZERO);
      const where = `${event} on ${dialect ?? 'base'}`;
      tt.equal(d.class, cls, `${where}: class`);
      tt.equal(d.action, 'reverse', `${where}: action`);
      tt.equal(d.reason, reason, `${where}: reason`);
      tt.equal(d.amount, 10000, `${where}: full amount`);
      tt.equal(d.finalAmount, null, `${where}: no F95`);
      tt.ok(d.explanation.includes(`event ${event}`), `${where}: explanation names the event`);
    }
  }
});

t.test('terminal-initiated reversals (0400) by reason code', async (tt) => {
  for (const [code, dialect, cls, reason] of REVERSAL_REASONS) {
    const d = decide(rules, sale({ mti: dialect === 'iso93a' ? '1420' : '0400', originalMti: '0200', responseCode: code, dialect }), ZERO);
    const where = `reversal reason ${code} on ${dialect ?? 'base'}`;
    tt.equal(d.class, cls, `${where}: class`);
    tt.equal(d.action, 'reverse', `${where}: action`);
    tt.equal(d.reason, reason, `${where}: forwarded reason`);
  }
  const unknown = decide(rules, sale({ mti: '0400', originalMti: '0200', responseCode: 'ZZ' }), ZERO);
  tt.equal(unknown.class, 'technical_unknown', 'an unknown reversal reason is still a reversal');
  tt.equal(unknown.action, 'reverse');
  tt.equal(rules.classify({ mti: '0400', responseCode: '96' }).class, 'undeliverable', 'classify reads x4xx codes as reversal reasons');
  tt.equal(rules.classify({ mti: '0200', responseCode: '96' }).class, 'technical_unknown', 'and x2xx codes as responses');
});

t.test('an event that only follows an approval defers to a non-approval response', async (tt) => {
  const declined = decide(rules, sale({ event: 'undeliverable', responseCode: '05' }), ZERO);
  tt.equal(declined.action, 'none', 'undeliverable decline: nothing was held');
  tt.match(declined.explanation, /^event undeliverable follows response 05 \(do not honour\), which was not an approval, so the response governs/);
  tt.equal(decide(rules, sale({ event: 'chip_decline', responseCode: '59' }), ZERO).action, 'review', 'fraud response still reviewed');
  tt.equal(decide(rules, sale({ event: 'undeliverable', responseCode: '96' }), ZERO).action, 'reverse', 'unknown outcome still reversed');
  tt.equal(decide(rules, sale({ event: 'undeliverable', responseCode: '00' }), ZERO).class, 'undeliverable', 'an approval: the event governs');
  tt.equal(decide(rules, sale({ event: 'mac_failure', responseCode: '05' }), ZERO).action, 'reverse', 'a response that fails its MAC cannot be believed');
  tt.equal(decide(rules, sale({ event: 'late', responseCode: '05' }), ZERO).action, 'reverse', 'the reversal queued at the timeout stands');
});

t.test('a duplicate (94) is never reversed, not even with an event that would reverse', async (tt) => {
  for (const event of ['timeout', 'late', 'mac_failure', 'connection_lost', 'format_error'] as const) {
    const d = decide(rules, sale({ event, responseCode: '94' }), ZERO);
    tt.equal(d.action, 'review', `${event} + 94: review`);
    tt.equal(d.proposed, 'none', `${event} + 94: nothing proposed`);
    tt.equal(d.rule, 'never-reverse-duplicate', `${event} + 94: rule`);
  }
  for (const event of ['undeliverable', 'chip_decline', 'customer_cancel'] as const) {
    tt.equal(decide(rules, sale({ event, responseCode: '94' }), ZERO).action, 'none', `${event} + 94: the duplicate governs`);
  }
  tt.equal(decide(rules, sale({ responseCode: '913', dialect: 'iso93a', event: 'late' }), ZERO).action, 'review', '1993 913 alike');
});

t.test('message classes: authorization, financial, 1993, reversal', async (tt) => {
  for (const mti of ['0100', '0200', '0220', '1100', '1200', '0201']) {
    tt.equal(decide(rules, sale({ mti, event: 'timeout' }), ZERO).action, 'reverse', `${mti}: a timeout reverses`);
  }
  const bad: [Partial<DecisionCase>, string][] = [
    [{ mti: '0800', event: 'timeout' }, 'mti'],
    [{ mti: '020', event: 'timeout' }, 'mti'],
    [{ mti: '3200', event: 'timeout' }, 'mti'],
    [{ mti: '0400', responseCode: '68' }, 'originalMti'],
    [{ mti: '0400', originalMti: '0420', responseCode: '68' }, 'originalMti'],
    [{ mti: '0400', originalMti: '0200', event: 'timeout' }, 'event'],
    [{ mti: '0400', originalMti: '0200' }, 'responseCode'],
    [{ mti: '0200', originalMti: '0200', event: 'timeout' }, 'originalMti'],
    [{}, 'responseCode'],
    [{ responseCode: '5' }, 'responseCode'],
    [{ responseCode: 'a0' }, 'responseCode'],
    [{ event: 'meteor' as LocalEvent }, 'event'],
    [{ event: 'timeout', currency: 'EUR' }, 'currency'],
    [{ event: 'timeout', now: Number.NaN }, 'now'],
  ];
  for (const [extra, path] of bad) {
    let caught: unknown;
    try {
      decide(rules, sale(extra), ZERO);
    } catch (e) {
      caught = e;
    }
    tt.ok(caught instanceof CaseError && caught.path === path, `${JSON.stringify(extra)}: CaseError at ${path}`);
  }
});

t.test("reversalReasonFor: a class's reversal reason on the upstream's dialect", async (tt) => {
  const r = loadDefaultRules();
  tt.equal(r.reversalReasonFor('customer_cancel', undefined, 'iso93a'), '4000', '1993: customer cancellation');
  tt.equal(r.reversalReasonFor('timeout', undefined, 'iso93a'), '4021');
  tt.equal(r.reversalReasonFor('undeliverable', undefined, 'iso93a'), '4013');
  tt.equal(r.reversalReasonFor('customer_cancel', undefined, 'iso87a'), r.classify({ mti: '0400', responseCode: '17', dialect: 'iso87a' }).reason,
    "1987: the class's own code, as a terminal's 17 gets");
});
