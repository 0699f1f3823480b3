/**
 * The terminal load generator run straight against the issuer simulator (no switch),
 * over real TCP on 127.0.0.1, for a second or two at low TPS. Without a switch nobody
 * but the terminal reverses anything, so the issuer's holds must be exactly the
 * approvals the terminals kept. No timing is asserted.
 */
import { createServer } from 'node:net';
import t, { type Test } from 'tap';
import { dialectFromOverrides } from '../codec/index.js';
import { checkMoneyInvariant } from '../switch/sim/invariant.js';
import { startIssuer, type IssuerOptions, type IssuerSim } from '../switch/sim/issuer.js';
import { formatMoneyCheck, formatTerminalSummary } from '../switch/sim/format.js';
import { runTerminals, type TerminalOptions, type TerminalSummary } from '../switch/sim/terminals.js';

async function issuerFor(tt: Test, opts: IssuerOptions): Promise<IssuerSim> {
  const issuer = await startIssuer(opts);
  tt.teardown(() => issuer.close());
  return issuer;
}

function run(issuer: IssuerSim, opts: Partial<TerminalOptions>): Promise<TerminalSummary> {
  return runTerminals({ port: issuer.port, tps: 40, durationS: 1.5, connections: 4, seed: 9, progress: false, records: true, ...opts });
}

function answered(s: TerminalSummary): number {
  return s.outcomes.approved + s.outcomes.chipDeclined + Object.values(s.outcomes.declined).reduce((a, b) => a + b, 0);
}

function outcomeTotal(s: TerminalSummary): number {
  const o = s.outcomes;
  return answered(s) + o.timedOut + o.disconnected + o.errors;
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

for (const mode of ['persistent', 'per-sale'] as const) {
  t.test(`${mode}: the issuer's holds are exactly the approvals the terminals kept`, async (tt) => {
    const issuer = await issuerFor(tt, { seed: 4, approveRate: 0.8, latencyMs: { min: 0, max: 5 } });
    const s = await run(issuer, { mode, chipDeclineRate: 0.25 });
    tt.equal(s.planned, 60);
    tt.equal(s.sent, 60);
    tt.equal(outcomeTotal(s), 60, 'every sale has one outcome');
    tt.equal(s.outcomes.errors, 0);
    tt.equal(s.outcomes.timedOut, 0);
    tt.ok(s.outcomes.chipDeclined > 0, 'some chip declines');
    tt.ok(s.outcomes.approved > 0, 'some approvals kept');
    tt.equal(s.latencyMs.count, answered(s), 'one latency sample per answered sale');
    tt.ok(s.latencyMs.p50 <= s.latencyMs.p99 && s.latencyMs.p99 <= s.latencyMs.max);
    tt.same(s.reversals, { sent: s.outcomes.chipDeclined, answered: s.outcomes.chipDeclined, repeats: 0, failed: 0 });

    const l = issuer.ledger();
    tt.same(sorted(l.holds.map((h) => h.rrn)), s.approvedRrns, 'holds = approvals kept');
    tt.same(sorted(l.released.map((h) => h.rrn)), s.terminalReversedRrns, 'released = chip-declined sales');
    for (const h of l.released) tt.equal(h.reversals.reason, '06', 'chip decline reason');
    tt.equal(l.counters.requests, 60);
    tt.equal(l.unmatched.length, 0);
    const check = checkMoneyInvariant(l, s.approvedRrns);
    tt.ok(check.ok, formatMoneyCheck(check));
    tt.same(check.missingHolds, []);
    if (mode === 'per-sale') tt.equal(l.counters.connections, 60 + s.reversals.sent, 'a connection per message');
    else tt.equal(l.counters.connections, 4, 'one connection per terminal');

    // Each terminal has its own F41 and its own STAN sequence from 000001; RRNs are unique.
    const sales = s.sales ?? [];
    tt.equal(new Set(sales.map((r) => r.rrn)).size, 60);
    tt.same(sorted(new Set(sales.map((r) => r.terminalId))), ['SIM00001', 'SIM00002', 'SIM00003', 'SIM00004']);
    tt.same(sales.filter((r) => r.terminalId === 'SIM00001').slice(0, 2).map((r) => r.stan), ['000001', '000002']);
    for (const r of sales) tt.match(r.amount, /^\d{10}00$/, 'normal amounts end in 00');
    tt.match(formatTerminalSummary(s), /approvals kept by terminals: \d+/);
  });
}

t.test('sales the terminal gives up on are reversed by it (68), and magic outcomes are counted', async (tt) => {
  const issuer = await issuerFor(tt, { seed: 5, approveRate: 1 });
  const s = await run(issuer, {
    magicMix: { '99': 0.2, '91': 0.1, '51': 0.1 }, responseTimeoutMs: 1500,
  });
  const sales = s.sales ?? [];
  const byEnding = (e: string): string[] => sales.filter((r) => r.amount.endsWith(e)).map((r) => r.rrn).sort();
  tt.ok(byEnding('99').length > 0 && byEnding('91').length > 0 && byEnding('51').length > 0, 'every magic ending was drawn');
  tt.equal(s.outcomes.timedOut, byEnding('99').length + byEnding('91').length);
  tt.equal(s.outcomes.declined['51'], byEnding('51').length);
  tt.same(s.terminalReversedRrns, sorted([...byEnding('99'), ...byEnding('91')]));
  tt.equal(s.reversals.answered, s.reversals.sent);

  const l = issuer.ledger();
  tt.same(sorted(l.released.map((h) => h.rrn)), byEnding('99'), 'the lost approvals were released');
  for (const h of l.released) tt.equal(h.reversals.reason, '68');
  tt.same(sorted(l.unmatched.map((u) => u.rrn)), byEnding('91'), 'reversals of never-posted sales are unmatched');
  for (const u of l.unmatched) tt.equal(u.original, 'not-approved');
  const check = checkMoneyInvariant(l, s.approvedRrns);
  tt.ok(check.ok, formatMoneyCheck(check));
  tt.same(check.missingHolds, []);
});

t.test('disconnects: the terminal never reverses them, so without a switch their holds stay', async (tt) => {
  const issuer = await issuerFor(tt, { seed: 6, approveRate: 1 });
  const s = await run(issuer, { mode: 'per-sale', disconnectRate: 0.3 });
  const dropped = (s.sales ?? []).filter((r) => r.outcome === 'disconnected').map((r) => r.rrn).sort();
  tt.ok(dropped.length > 0);
  tt.equal(s.outcomes.disconnected, dropped.length);
  tt.same(s.disconnectedRrns, dropped);
  tt.same(s.terminalReversedRrns, []);
  const l = issuer.ledger();
  const check = checkMoneyInvariant(l, s.approvedRrns);
  const stray = new Set(check.strayHolds.map((h) => h.rrn));
  for (const r of stray) tt.ok(dropped.includes(r), `stray hold ${r} is a disconnected sale`);
  tt.ok(checkMoneyInvariant(l, [...s.approvedRrns, ...dropped]).ok);
});

t.test('persistent disconnect drops the whole connection; the terminal reconnects', async (tt) => {
  const issuer = await issuerFor(tt, { seed: 6, approveRate: 1, latencyMs: 5 });
  const s = await run(issuer, { mode: 'persistent', disconnectRate: 0.1 });
  tt.ok(s.outcomes.disconnected > 0);
  tt.equal(outcomeTotal(s), s.sent);
  tt.ok(issuer.ledger().counters.connections > 4, 'reconnected after each drop');
  const check = checkMoneyInvariant(issuer.ledger(), [...s.approvedRrns, ...s.disconnectedRrns]);
  tt.ok(check.ok, formatMoneyCheck(check));
});

t.test('an unanswered reversal is repeated as 0401, then given up', async (tt) => {
  const issuer = await issuerFor(tt, { seed: 8, approveRate: 1, reversalDropRate: 1 });
  const s = await run(issuer, { tps: 10, durationS: 0.5, chipDeclineRate: 1, reversalAttempts: 2, reversalTimeoutMs: 150 });
  tt.equal(s.sent, 5);
  tt.equal(s.outcomes.chipDeclined, 5);
  tt.same(s.reversals, { sent: 5, answered: 0, repeats: 5, failed: 5 });
  tt.same(s.reversalFailedRrns, s.terminalReversedRrns);
  tt.same(s.approvedRrns, []);
  const l = issuer.ledger();
  tt.equal(l.released.length, 5, 'the issuer released each once');
  for (const h of l.released) tt.same([h.reversals.distinct, h.reversals.repeats], [1, 1]);
  tt.equal(l.counters.reversalAnswersDropped, 10);
  tt.ok(checkMoneyInvariant(l, s.approvedRrns).ok);
});

t.test('a target that never answers: every sale times out, and the run still ends', async (tt) => {
  const issuer = await issuerFor(tt, { seed: 2, approveRate: 1, dropRate: 1 });
  const s = await run(issuer, { tps: 20, durationS: 0.5, responseTimeoutMs: 200 });
  tt.equal(s.outcomes.timedOut, 10);
  tt.equal(s.latencyMs.count, 0);
  tt.equal(s.reversals.answered, 10);
  const l = issuer.ledger();
  tt.equal(l.holds.length, 0, 'the dropped approvals were reversed by the terminals');
  tt.equal(l.released.length, 10);
});

t.test('a target that is down: connect errors, no reversals, the run ends', async (tt) => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  const s = await runTerminals({ port, tps: 20, durationS: 0.25, seed: 1, progress: false });
  tt.equal(s.sent, 5);
  tt.equal(s.outcomes.errors, 5);
  tt.equal(s.errors.connect, 5);
  tt.equal(s.reversals.sent, 0);
});

t.test('a target that accepts and never answers anything: reversals fail after their repeats, and the run ends', async (tt) => {
  const srv = createServer((sock) => { sock.on('data', () => {}); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  tt.teardown(() => new Promise<void>((r) => { srv.close(() => r()); }));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const s = await runTerminals({
    port, tps: 20, durationS: 0.25, seed: 1, progress: false, responseTimeoutMs: 100, reversalTimeoutMs: 100, reversalAttempts: 2,
  });
  tt.equal(s.outcomes.timedOut, 5);
  tt.same(s.reversals, { sent: 5, answered: 0, repeats: 5, failed: 5 });
  tt.same(s.errors, {});
});

t.test('the same seed gives the same sales', async (tt) => {
  const issuer = await issuerFor(tt, { seed: 3, approveRate: 1 });
  const a = await run(issuer, { tps: 20, durationS: 0.5, rrnPrefix: '11', magicMix: { '51': 0.3 } });
  const b = await run(issuer, { tps: 20, durationS: 0.5, rrnPrefix: '22', magicMix: { '51': 0.3 } });
  const view = (s: TerminalSummary): string[] => (s.sales ?? []).map((r) => `${r.terminalId}/${r.stan}/${r.amount}/${r.outcome}`);
  tt.same(view(b), view(a));
  tt.equal(issuer.ledger().counters.duplicateOriginals, 0, 'distinct RRN prefixes keep the runs apart');
});

t.test('aborting stops sending; sales in flight finish', async (tt) => {
  const issuer = await issuerFor(tt, { seed: 3, approveRate: 1 });
  const ac = new AbortController();
  const first = issuer.waitFor((e) => e.msg.mti === '0200');
  const p = runTerminals({ port: issuer.port, tps: 20, durationS: 60, seed: 1, progress: false, signal: ac.signal });
  await first;
  ac.abort();
  const s = await p;
  tt.ok(s.sent >= 1 && s.sent < s.planned);
  tt.equal(outcomeTotal(s), s.sent);
});

t.test('options are checked', async (tt) => {
  await tt.rejects(runTerminals({ port: 1, tps: 0, durationS: 1 }), RangeError);
  await tt.rejects(runTerminals({ port: 1, tps: 1, durationS: 1, magicMix: { '42': 0.1 } }), /no magic ending "42"/);
  await tt.rejects(runTerminals({ port: 1, tps: 1, durationS: 1, magicMix: { '51': 0.7, '05': 0.7 } }), /more than 1/);
  await tt.rejects(runTerminals({ port: 1, tps: 1, durationS: 1, connections: 1000 }), RangeError);
  // A derived dialect without F90: its reversals could not name their sale.
  const no90 = dialectFromOverrides({ base: 'iso87a', fields: { 90: null } }, 'no90.json');
  await tt.rejects(runTerminals({ port: 1, tps: 1, durationS: 1, dialect: no90 }), /ISO 8583:1987\) needs F90/);
});
