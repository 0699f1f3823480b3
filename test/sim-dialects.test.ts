/**
 * The simulators in every built-in dialect (issue 20): the terminal generator against the
 * issuer simulator directly, in ISO 8583:1993, UnionPay POS and 1987 binary, and through a
 * running switch whose listener and upstream speak 1993 or UnionPay. Approvals, declines,
 * partial and late approvals (magic amounts) and chip declines, hang-ups and timeouts that
 * make reversals: every approved sale that was reversed has its hold released in the
 * issuer's ledger, nothing is reversed twice, and the counts add up. Then simDialect:
 * every built-in dialect is taken, a derived one without what its standard needs is
 * refused by name. No durations are asserted; every wait polls a condition with a cap.
 */
import t, { type Test } from 'tap';
import {
  DIALECT_NAMES, dialectFromOverrides, getDialect, localDateTime, profileOf, refundOf, repeatOf, responseMti, reversalOf, swapTpdu, toHex, transmissionTime, type IsoMessage,
} from '../codec/index.js';
import { startSwitch } from '../switch/cli/start-command.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { createLogger } from '../switch/observe/log.js';
import { formatMoneyCheck, formatTerminalSummary } from '../switch/sim/format.js';
import { checkMoneyInvariant } from '../switch/sim/invariant.js';
import { connectClient } from '../switch/sim/client.js';
import { startIssuer, type IssuerSim } from '../switch/sim/issuer.js';
import { Ledger } from '../switch/sim/ledger.js';
import { MAGIC_AMOUNTS } from '../switch/sim/magic.js';
import { codesOf } from '../switch/sim/standard-codes.js';
import { saleMessage } from '../switch/sim/terminal-sale.js';
import { runTerminals, type TerminalOptions, type TerminalSummary } from '../switch/sim/terminals.js';
import { simDialect } from '../switch/sim/wire.js';
import { until } from './support/until.js';

const LATE_MS = 600;
/** ..68 late approval, ..05/..51 declines, ..10 partial approval, ..91 never answered. */
const MAGIC = { '68': 0.06, '05': 0.05, '51': 0.05, '10': 0.06, '91': 0.03 };

function declines(s: TerminalSummary): number {
  return Object.values(s.outcomes.declined).reduce((a, b) => a + b, 0);
}

function outcomeTotal(s: TerminalSummary): number {
  const o = s.outcomes;
  return o.approved + o.chipDeclined + declines(s) + o.timedOut + o.disconnected + o.errors;
}

async function issuerFor(tt: Test, dialect: string): Promise<IssuerSim> {
  const issuer = await startIssuer({ dialect, seed: 11, approveRate: 0.85, latencyMs: { min: 0, max: 5 }, lateMs: LATE_MS });
  tt.teardown(() => issuer.close());
  return issuer;
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

for (const dialect of ['iso93a', 'cup', 'iso87b']) {
  t.test(`${dialect}, terminals straight to the issuer: every reversed approval released, the counts add up`, async (tt) => {
    const codes = codesOf(getDialect(dialect));
    const issuer = await issuerFor(tt, dialect);
    const s = await runTerminals({
      dialect, port: issuer.port, tps: 60, durationS: 2, connections: 4, seed: 5, progress: false, records: true,
      chipDeclineRate: 0.2, magicMix: MAGIC, acquirerId: '123456', responseTimeoutMs: LATE_MS / 2, reversalTimeoutMs: 2000,
    });
    tt.equal(s.sent, 120);
    tt.equal(outcomeTotal(s), s.sent, `every sale has one outcome: ${formatTerminalSummary(s)}`);
    tt.equal(s.outcomes.errors, 0);
    tt.ok(s.outcomes.approved > 0 && s.outcomes.chipDeclined > 0 && s.outcomes.timedOut > 0, 'approvals, chip declines and timeouts');
    tt.same(Object.keys(s.outcomes.declined).sort(), [codes.of('05'), codes.of('51')].sort(), 'declined in the standard\'s codes');
    tt.equal(s.reversals.sent, s.outcomes.chipDeclined + s.outcomes.timedOut, 'a reversal per chip decline and timeout');
    tt.equal(s.reversals.answered, s.reversals.sent);
    tt.equal(s.reversals.failed, 0);
    // Every hold is placed when its sale arrives and every reversal was answered: the ledger is final.
    const l = issuer.ledger();
    tt.ok(l.counters.late > 0, `late approvals, reversed by the terminal that gave up on them: ${l.counters.late}`);
    tt.equal(l.counters.requests, s.sent, 'every sale reached the issuer once');
    tt.same(sorted(l.holds.map((h) => h.rrn)), s.approvedRrns, 'holds = approvals kept');
    const reversed = new Set(s.terminalReversedRrns);
    tt.ok(l.released.every((h) => reversed.has(h.rrn)), 'released = sales the terminals reversed');
    tt.equal(l.released.length + l.unmatched.length, s.terminalReversedRrns.length, 'each reversal released a hold or named a sale never approved');
    tt.ok(l.unmatched.every((u) => u.originalCode === codes.of('91')), 'unmatched: only the sales the issuer never answered');
    tt.same(sorted(new Set(l.released.map((h) => h.reversals.reason ?? ''))), sorted([codes.chipDeclineReason, codes.timeoutReason]), 'the standard\'s reasons');
    tt.equal(l.counters.approved, l.holds.length + l.released.length);
    tt.equal(l.counters.reversalsApplied, l.released.length);
    tt.equal(l.counters.secondReversals, 0, 'nothing reversed twice');
    tt.equal(l.summary.reversedTwice, 0);
    const partial = [...l.holds, ...l.released].filter((h) => h.originalAmount !== (s.sales ?? []).find((r) => r.rrn === h.rrn)?.amount);
    tt.ok(partial.length > 0 && partial.every((h) => Number(h.originalAmount) * 2 <= Number((s.sales ?? []).find((r) => r.rrn === h.rrn)?.amount)),
      'a partial approval holds half');
    const money = checkMoneyInvariant(l, s.approvedRrns);
    tt.ok(money.ok, formatMoneyCheck(money));
    tt.same(money.missingHolds, []);
  });
}

/** The switch between the terminals and the issuer, its listener and upstream in `dialect`. */
async function switchFor(tt: Test, dialect: string, issuer: IssuerSim): Promise<Awaited<ReturnType<typeof startSwitch>>> {
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0, dialect });
  cfg.logLevel = 'silent';
  cfg.admin = 'off';
  cfg.store = 'memory:';
  cfg.panHashKey = 'dff2ad79c71e5c0eba568002bfd86ec05eb5c62dfd845c28ad5d7a34bbed0871';
  cfg.tickMs = 5;
  cfg.upstreamTimeoutMs = 300;
  cfg.reversal = { ...cfg.reversal, responseTimeoutMs: 300, backoffMs: [50, 100] };
  cfg.upstreams = [{
    ...UPSTREAM_DEFAULTS, name: 'issuer', host: '127.0.0.1', port: issuer.port, dialect, timeoutMs: 300, reconnectBackoffMs: [50, 100],
    // The switch's own 0800 to a UnionPay host has no TPDU to be encoded with: no sign-on, no echo.
    ...(profileOf(getDialect(dialect)).standard === 'cup' ? { signOn: false, echoIdleMs: 3_600_000 } : {}),
  }];
  const running = await startSwitch(cfg, createLogger('silent'));
  tt.teardown(() => running.stop());
  tt.ok(await running.sw.waitUntilUp(10_000), `${dialect}: the issuer link is up`);
  return running;
}

for (const dialect of ['iso93a', 'cup']) {
  t.test(`${dialect}, through a switch speaking it on both sides: the money check holds`, async (tt) => {
    const codes = codesOf(getDialect(dialect));
    const issuer = await issuerFor(tt, dialect);
    const running = await switchFor(tt, dialect, issuer);
    const sw = running.sw;
    const opts: TerminalOptions = {
      dialect, port: sw.ports()[0], mode: 'per-sale', tps: 100, durationS: 2, connections: 8, seed: 23, progress: false, records: true,
      chipDeclineRate: 0.1, disconnectRate: 0.05, magicMix: MAGIC, acquirerId: '123456', responseTimeoutMs: 10_000, reversalTimeoutMs: 5000,
    };
    const s = await runTerminals(opts);
    tt.equal(s.sent, 200);
    tt.equal(outcomeTotal(s), s.sent, `every sale has one outcome: ${formatTerminalSummary(s)}`);
    tt.equal(s.outcomes.errors, 0);
    tt.equal(s.outcomes.timedOut, 0, 'the switch answered every sale before the terminal gave up');
    tt.equal(s.reversals.failed, 0, 'every chip-decline reversal answered');
    tt.ok(s.outcomes.approved > 0 && s.outcomes.chipDeclined > 0 && s.outcomes.disconnected > 0, 'approvals, chip declines, hang-ups');
    tt.ok(Object.keys(s.outcomes.declined).includes(codes.of('05')), 'declines in the standard\'s codes');

    await until(() => sw.counters.get('late_responses') >= issuer.ledger().counters.late, 'every late answer at the switch', 30_000);
    await until(() => sw.reversals.outstanding === 0, 'every reversal acknowledged', 30_000);

    const l = issuer.ledger();
    const money = checkMoneyInvariant(l, s.approvedRrns);
    tt.ok(money.ok, formatMoneyCheck(money));
    tt.same(money.strayHolds.map((h) => h.rrn), [], 'no stray hold: every approved-then-reversed sale released');
    tt.same(money.reversedTwice.map((h) => h.rrn), [], 'nothing reversed twice');
    tt.same(money.missingHolds, [], 'every approval a terminal kept still holds');
    tt.equal(l.counters.secondReversals, 0);
    tt.equal(l.holds.length, s.approvedRrns.length, 'holds = approvals kept');
    tt.equal(l.counters.approved, l.holds.length + l.released.length, 'approved = held + released');
    tt.equal(l.counters.reversalsApplied, l.released.length, 'one applied reversal per released hold');
    const c = sw.counters;
    const faults: Record<string, number> = {
      lateAtIssuer: l.counters.late, timeouts: c.get('timeouts'), terminalReversals: c.get('terminal_reversals'),
      undeliverable: c.get('undeliverable'), acked: c.get('reversals_acked'), released: l.released.length,
    };
    for (const [k, v] of Object.entries(faults)) tt.ok(v > 0, `${k}: ${v}`);
    tt.equal(c.get('terminal_reversals_unknown_original'), 0, 'the switch found every terminal reversal\'s original');
    tt.equal(c.get('reversals_manual'), 0, 'no reversal gave up');
    tt.equal(l.counters.requests, c.get('forwarded'), 'every forwarded sale reached the issuer once');
    tt.ok(l.released.every((h) => h.reversals.distinct === 1));
  });
}

t.test('answers in the standard\'s form: UnionPay with the TPDU swapped and the header; 1993 action codes and network management', async (tt) => {
  const cup = getDialect('cup');
  const issuer = await startIssuer({ dialect: 'cup', seed: 1, approveRate: 1 });
  tt.teardown(() => issuer.close());
  const c = await connectClient({ port: issuer.port, dialect: 'cup' });
  tt.teardown(() => c.close());
  const sale = saleMessage(cup, {
    mti: '0200', terminal: 7, terminalId: 'SIM00007', merchant: 'REVSWSIM0000007', stan: '000031', rrn: '130000000031', minor: 1200,
    panDigits: '010', acquirerId: undefined, currency: '156', now: new Date(),
  });
  const res = await c.request(sale);
  tt.equal(res.get(39), '00');
  tt.equal(toHex(res.tpdu ?? new Uint8Array()), toHex(swapTpdu(sale.tpdu ?? new Uint8Array())), 'the TPDU swapped');
  tt.equal(toHex(res.header ?? new Uint8Array()), toHex(sale.header ?? new Uint8Array()), 'the header');
  tt.equal(res.get(60), sale.get(60), 'F60 echoed');
  const declined = await c.request(saleMessage(cup, {
    mti: '0200', terminal: 7, terminalId: 'SIM00007', merchant: 'REVSWSIM0000007', stan: '000032', rrn: '130000000032', minor: 1251,
    panDigits: '010', acquirerId: undefined, currency: '156', now: new Date(),
  }));
  tt.equal(declined.get(39), '51', '..51 declines 51');

  const d93 = getDialect('iso93a');
  const i93 = await startIssuer({ dialect: 'iso93a', seed: 1, approveRate: 1 });
  tt.teardown(() => i93.close());
  const c93 = await connectClient({ port: i93.port, dialect: 'iso93a' });
  tt.teardown(() => c93.close());
  const s93 = (stan: string, minor: number): IsoMessage => saleMessage(d93, {
    mti: '0200', terminal: 1, terminalId: 'SIM00001', merchant: 'REVSWSIM0000001', stan, rrn: '1400000' + stan.slice(1), minor,
    panDigits: '011', acquirerId: '123456', currency: '840', now: new Date(),
  });
  tt.equal((await c93.request(s93('000041', 1200))).get(39), '000', 'approved 000');
  tt.equal((await c93.request(s93('000042', 1205))).get(39), '100', '..05 declines 100');
  const partial = await c93.request(s93('000043', 1210));
  tt.same([partial.mti, partial.get(39), partial.get(4)], ['1210', '002', '000000000605'], '..10 approves half, 002');
  const echo = profileOf(d93).networkRequest(d93, 'echo', '000044', Date.now());
  const echoed = await c93.request(echo);
  tt.same([echoed.mti, echoed.get(39), echoed.get(24)], [responseMti(echo.mti), '000', '831'], 'echo answered');
  tt.equal(i93.ledger().counters.echoes, 1);
  const rev = reversalOf(d93, s93('000041', 1200), { reason: '4021', stan: '000045', transmissionDateTime: transmissionTime(Date.now()) });
  tt.equal((await c93.request(rev)).get(39), '400', 'a reversal is accepted, 400');
});

t.test('refunds find their sale in every standard (F90, F56, F61)', async (tt) => {
  for (const name of ['iso87a', 'iso93a', 'cup']) {
    const d = getDialect(name);
    const l = new Ledger(profileOf(d));
    const codes = codesOf(d);
    const now = new Date();
    const sale = (stan: string, rrn: string): IsoMessage => saleMessage(d, {
      mti: '0200', terminal: 1, terminalId: 'SIM00001', merchant: 'REVSWSIM0000001', stan, rrn, minor: 5000, panDigits: '007',
      acquirerId: '123456', currency: '840', now,
    }).set(7, transmissionTime(now.getTime()));
    const a = sale('000011', '110000000011');
    const b = sale('000012', '110000000012');
    l.recordOriginal(a, codes.approved, '111111', false, 1);
    l.recordOriginal(b, codes.approved, '222222', false, 2);
    const refund = refundOf(d, b, {
      amount: '2000', stan: '000013', transmissionDateTime: transmissionTime(now.getTime()), localDateTime: localDateTime(now.getTime()),
      retrievalReference: '990000000000', originalDate: '1204',
    });
    const r = l.refund(refund, 3);
    tt.equal(r.kind, 'applied', `${name}: applied`);
    tt.equal(r.hold?.amount, '000000003000', `${name}: credited to the sale it names (not found by RRN: that is another)`);
  }
});

t.test('a reversal of each standard releases its hold once; a repeat is a repeat', async (tt) => {
  for (const name of ['iso87a', 'iso93a', 'cup']) {
    const d = getDialect(name);
    const l = new Ledger(profileOf(d));
    const codes = codesOf(d);
    const now = new Date();
    const sale = saleMessage(d, {
      mti: '0200', terminal: 1, terminalId: 'SIM00001', merchant: 'REVSWSIM0000001', stan: '000021', rrn: '120000000021', minor: 7000,
      panDigits: '008', acquirerId: '123456', currency: '840', now,
    });
    l.recordOriginal(sale, codes.approved, '333333', false, 1);
    const cup = profileOf(d).standard === 'cup';
    const rev = reversalOf(d, sale, { reason: codes.chipDeclineReason, stan: cup ? undefined : '000022', transmissionDateTime: transmissionTime(now.getTime()) });
    tt.equal(l.reverse(rev, 2).kind, 'applied', `${name}: applied`);
    tt.equal(l.reverse(repeatOf(rev), 3).kind, 'repeat', `${name}: its repeat`);
    const snap = l.snapshot();
    tt.equal(snap.released.length, 1, `${name}: released`);
    tt.equal(snap.released[0].reversals.reason, codes.chipDeclineReason);
    const partial = saleMessage(d, {
      mti: '0200', terminal: 1, terminalId: 'SIM00001', merchant: 'REVSWSIM0000001', stan: '000023', rrn: '120000000023', minor: 9000,
      panDigits: '009', acquirerId: '123456', currency: '840', now,
    });
    l.recordOriginal(partial, codes.approved, '444444', false, 4);
    const p = reversalOf(d, partial, { reason: codes.chipDeclineReason, finalAmount: '3000', stan: cup ? undefined : '000024', transmissionDateTime: transmissionTime(now.getTime()) });
    tt.equal(l.reverse(p, 5).kind, 'applied');
    const h = l.snapshot().holds.find((x) => x.rrn === '120000000023');
    tt.equal(h?.amount, '000000003000', `${name}: a partial reversal leaves the final amount`);
    tt.equal(h?.status, 'partial');
  }
  // UnionPay, as bench/fixtures/messages.ts has it: the reversal under a trace of its own, F61 naming the sale's batch and trace.
  const cup = getDialect('cup');
  const l = new Ledger(profileOf(cup));
  const sale = saleMessage(cup, {
    mti: '0200', terminal: 1, terminalId: 'SIM00001', merchant: 'REVSWSIM0000001', stan: '000051', rrn: '150000000051', minor: 4000,
    panDigits: '012', acquirerId: undefined, currency: '156', now: new Date(),
  });
  l.recordOriginal(sale, '00', '555555', false, 1);
  const rev = reversalOf(cup, sale, { reason: '98', stan: '000052' }).set(61, '000001' + '000051' + '1204');
  tt.equal(l.reverse(rev, 2).kind, 'applied', 'cup: F61 names the sale');
  tt.equal(l.reverse(repeatOf(rev), 3).kind, 'repeat');
  tt.equal(l.snapshot().released[0]?.rrn, '150000000051');
});

t.test('magic amounts script the same outcome in every standard', async (tt) => {
  for (const name of DIALECT_NAMES) {
    const codes = codesOf(getDialect(name));
    const width = profileOf(getDialect(name)).standard === 'iso93' ? 3 : 2;
    for (const m of MAGIC_AMOUNTS) {
      if (m.action.kind === 'decline') tt.equal(codes.of(m.action.code).length, width, `${name}: ..${m.ending} declines in the standard's code`);
    }
    tt.ok(codes.approvals.has(codes.approved) && codes.approvals.has(codes.partial), `${name}: approved and partial are approvals`);
  }
  tt.equal(codesOf(getDialect('iso93a')).of('05'), '100');
  tt.equal(codesOf(getDialect('iso93a')).partial, '002');
  tt.equal(codesOf(getDialect('cup')).of('05'), '05');
});

t.test('simDialect takes every built-in dialect and refuses a derived one lacking what its standard needs', async (tt) => {
  for (const name of DIALECT_NAMES) tt.equal(simDialect(name).name, name, `${name} taken`);
  const no90 = dialectFromOverrides({ base: 'iso87a', fields: { 90: null } }, 'no90.json');
  tt.throws(() => simDialect(no90), /ISO 8583:1987\) needs F90 \(original data elements/);
  const no56 = dialectFromOverrides({ base: 'iso93a', fields: { 56: null, 25: null } }, 'no56.json');
  tt.throws(() => simDialect(no56), /no56\.json: the simulators cannot speak it: its standard \(ISO 8583:1993\) needs F25 \(message reason code.*F56 \(original data/);
  const no37 = dialectFromOverrides({ base: 'cup', fields: { 37: null } }, 'no37.json');
  tt.throws(() => simDialect(no37), /UnionPay POS\) needs F37 \(retrieval reference number\)/);
  await tt.rejects(startIssuer({ dialect: no56 }), /F56/);
  await tt.rejects(runTerminals({ port: 1, tps: 1, durationS: 1, dialect: no90 }), /F90/);
});

t.test('cup: the switch\'s own reversal repeats its sale\'s trace, and its 0410 reaches the queue', async (tt) => {
  // A UnionPay host finds the original of a reversal by its trace (F11) on the terminal:
  // a reversal under a STAN of the switch's own names no sale there (codec/profiles/cup.ts).
  const cup = getDialect('cup');
  const issuer = await startIssuer({ dialect: 'cup', seed: 5, approveRate: 1 });
  tt.teardown(() => issuer.close());
  const seen: IsoMessage[] = [];
  issuer.onMessage((e) => seen.push(e.msg));
  const running = await switchFor(tt, 'cup', issuer);
  const sw = running.sw;
  const c = await connectClient({ port: sw.ports()[0], dialect: 'cup' });
  tt.teardown(() => c.close());
  // ..99: the issuer approves and holds, but the answer never comes: the switch times out and reverses.
  const sale = saleMessage(cup, {
    mti: '0200', terminal: 3, terminalId: 'CUPREV01', merchant: 'REVSWSIM0000001', stan: '000077', rrn: '160000000077', minor: 1099,
    panDigits: '031', acquirerId: undefined, currency: '156', now: new Date(),
  });
  tt.equal((await c.request(sale, 5000)).get(39), '91', 'the terminal gets the issuer-unavailable answer');
  await until(() => sw.reversals.outstanding === 0 && sw.counters.get('reversals_acked') === 1, 'the reversal acknowledged', 10_000);
  const up = seen.find((m) => m.mti === '0200');
  const rev = seen.find((m) => m.mti === '0400');
  tt.ok(up && rev, 'the sale and its reversal at the issuer');
  tt.equal(rev?.get(11), up?.get(11), 'the 0400 carries the sale\'s own upstream trace');
  tt.equal(rev?.get(60), up?.get(60), 'and its F60 (batch)');
  tt.equal(sw.counters.get('reversal_responses_unmatched'), 0, 'its 0410 went to the reversal queue, not to late answers');
  tt.equal(sw.counters.get('reversal_stan_conflicts'), 0);
  const l = issuer.ledger();
  tt.same(l.holds.map((h) => h.rrn), [], 'the hold released');
  tt.equal(l.released[0]?.rrn, '160000000077', 'that sale\'s');
  tt.equal(l.counters.unmatchedReversals, 0, 'the issuer matched it');
});

t.test('cup, default rules: one card, one terminal, one merchant, many failures: every mandatory reversal reaches the issuer', async (tt) => {
  // Past every velocity threshold of rules/default.yaml (3 per card): velocity only alerts on reversals.
  const EACH = 4;
  const cup = getDialect('cup');
  const issuer = await startIssuer({ dialect: 'cup', seed: 9, approveRate: 1, latencyMs: 100, lateMs: 900 });
  tt.teardown(() => issuer.close());
  const reversalsAtIssuer: IsoMessage[] = [];
  // A UnionPay reversal carries no RRN: it names its sale by the sale's trace (F11), as sent upstream.
  const traceOf = new Map<string, string>();
  issuer.onMessage((e) => {
    if (e.msg.mti === '0400') reversalsAtIssuer.push(e.msg);
    if (e.msg.mti === '0200') traceOf.set(e.msg.get(11) ?? '', e.msg.get(37) ?? '');
  });
  const running = await switchFor(tt, 'cup', issuer);
  const sw = running.sw;
  const port = sw.ports()[0];
  let n = 0;
  const sale = (minor: number): IsoMessage => {
    n++;
    return saleMessage(cup, {
      mti: '0200', terminal: 7, terminalId: 'CUPONE01', merchant: 'MERCHONE0000001', stan: String(100 + n).padStart(6, '0'),
      rrn: `17000000${String(n).padStart(4, '0')}`, minor, panDigits: '077', acquirerId: undefined, currency: '156', now: new Date(),
    });
  };
  const c = await connectClient({ port, dialect: 'cup' });
  tt.teardown(() => c.close());
  const expected: string[] = [];
  for (let i = 1; i <= EACH; i++) {
    // Timeouts: approved and held but never answered (..99); never answered, nothing held (..91).
    for (const ending of [99, 91]) {
      const s = sale(i * 1000 + ending);
      tt.equal((await c.request(s, 5000)).get(39), '91', `timeout ..${ending}`);
      expected.push(s.get(37) as string);
    }
    // A late approval (after the deadline) and an unknown outcome (96).
    const late = sale(i * 1000 + 68);
    tt.equal((await c.request(late, 5000)).get(39), '91', 'late approval: timed out');
    const unknown = sale(i * 1000 + 96);
    tt.equal((await c.request(unknown, 5000)).get(39), '96', 'unknown outcome');
    expected.push(late.get(37) as string, unknown.get(37) as string);
    // The chip declines after the approval: the terminal's own reversal, under the sale's trace.
    const chip = sale(i * 1000);
    tt.equal((await c.request(chip, 5000)).get(39), '00', 'approved');
    tt.equal((await c.request(reversalOf(cup, chip, { reason: '06' }), 5000)).get(39), '00', 'the chip decline\'s reversal answered');
    expected.push(chip.get(37) as string);
    // The terminal hangs up before the approval: undeliverable.
    const gone = await connectClient({ port, dialect: 'cup' });
    const lost = sale(i * 1000 + 50);
    const atIssuer = issuer.waitFor((e) => e.msg.mti === '0200' && e.msg.get(37) === lost.get(37), 5000);
    gone.send(lost);
    await atIssuer;
    await gone.close();
    expected.push(lost.get(37) as string);
  }
  await until(() => sw.reversals.outstanding === 0 && reversalsAtIssuer.length >= expected.length, 'every reversal at the issuer and acknowledged', 30_000);
  tt.same(sorted(reversalsAtIssuer.map((m) => traceOf.get(m.get(11) ?? '') ?? `no sale under trace ${m.get(11)}`)), sorted(expected),
    `${expected.length} mandatory reversals, one for each failure, each under its sale's trace, none held back`);
  tt.equal(sw.counters.get('reversals_manual'), 0, 'none left to a person');
  tt.ok(sw.counters.get('velocity_alerts_card') > 0, 'velocity alerted on the card, and held nothing back');
  const l = issuer.ledger();
  tt.same(l.holds.map((h) => h.rrn), [], 'no hold left: every held failure released');
  tt.equal(l.counters.secondReversals, 0, 'nothing reversed twice');
  tt.equal(l.unmatched.length, 2 * EACH, 'unmatched: only the sales that held nothing (..91, ..96)');
});
