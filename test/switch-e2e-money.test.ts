/**
 * The money invariant through the running switch: thousands of sales from simulated
 * terminals over real TCP, with the faults on at once (approvals lost, late approvals
 * and declines, issuer outages, unknown outcomes, terminals hanging up, chip declines,
 * lost 0410s). Once the late answers are in and every reversal is acknowledged, the
 * issuer's ledger must hold exactly the sales whose approval a terminal kept: no stray
 * hold, nothing reversed twice. Fixed seeds; the only waits are polled conditions.
 *
 * The rules are the default file: far past its velocity thresholds (3 undos per card in 10
 * minutes), every reversal still goes out, with an alert. One thing is held constant so
 * the check is about the switch:
 * - Terminals hang up only in per-sale mode (one connection per sale). In persistent mode
 *   a hang-up also cuts off the other sales in flight on that connection, and an approval
 *   the switch wrote into the socket just before it saw the FIN counts as delivered: TCP
 *   cannot tell it otherwise, and the simulated terminal does not reverse its own
 *   in-flight sales after a crash. The persistent run below has every other fault.
 */
import t, { type Test } from 'tap';
import { formatMoneyCheck, formatTerminalSummary } from '../switch/sim/format.js';
import { checkMoneyInvariant } from '../switch/sim/invariant.js';
import type { IssuerOptions } from '../switch/sim/issuer.js';
import { runTerminals, type TerminalOptions } from '../switch/sim/terminals.js';
import { startHarness } from './support/switch-harness.js';

const LATE_MS = 700;

const ISSUER: IssuerOptions = {
  approveRate: 0.9, latencyMs: { min: 1, max: 20 }, dropRate: 0.01, lateRate: 0.01, lateMs: LATE_MS, reversalDropRate: 0.05,
};
const MAGIC = { '99': 0.01, '68': 0.01, '91': 0.005, '96': 0.005, '51': 0.01, '05': 0.005 };

async function moneyRun(tt: Test, issuerSeed: number, terminals: Omit<TerminalOptions, 'port'>, expectUndeliverable: boolean): Promise<void> {
  const h = await startHarness(tt, { issuer: { ...ISSUER, seed: issuerSeed }, upstreamTimeoutMs: 300 });
  const summary = await runTerminals({
    port: h.port, progress: false, acquirerId: '123456', magicMix: MAGIC, chipDeclineRate: 0.01,
    // One card for every sale, far past every per-card velocity threshold: no mandatory reversal may be held back.
    responseTimeoutMs: 10_000, reversalTimeoutMs: 5000, cards: 1, ...terminals,
  });
  tt.equal(summary.sent, summary.planned, 'every planned sale was sent');
  tt.equal(summary.outcomes.errors, 0, formatTerminalSummary(summary));
  tt.equal(summary.outcomes.timedOut, 0, 'the switch answered every sale before the terminal gave up');
  tt.equal(summary.reversals.failed, 0, 'every chip-decline reversal was answered');

  // Late answers come up to LATE_MS after their sale; then the last reversals (and their
  // repeats, for the 0410s the issuer dropped) drain.
  await h.until(() => h.sw.counters.get('late_responses') >= h.issuer.ledger().counters.late, 'every late answer at the switch', 30_000);
  await h.until(() => h.sw.reversals.outstanding === 0, 'every reversal acknowledged', 30_000);

  const ledger = h.issuer.ledger();
  const money = checkMoneyInvariant(ledger, summary.approvedRrns);
  tt.ok(money.ok, formatMoneyCheck(money));
  tt.same(money.strayHolds.map((x) => x.rrn), [], 'no stray hold');
  tt.same(money.reversedTwice.map((x) => x.rrn), [], 'nothing reversed twice');
  tt.same(money.missingHolds, [], 'every approval a terminal kept still holds its money');
  tt.equal(ledger.holds.length, summary.approvedRrns.length, 'holds = approvals kept');
  tt.equal(ledger.counters.secondReversals, 0);

  // The faults really happened, so the check above means something.
  const c = h.sw.counters;
  const faults: Record<string, number> = {
    timeouts: c.get('timeouts'), late: c.get('late_responses'), terminalReversals: c.get('terminal_reversals'),
    repeats: c.get('reversal_repeats_sent'), acked: c.get('reversals_acked'), chipDeclined: summary.outcomes.chipDeclined,
    unmatchedAtIssuer: ledger.counters.unmatchedReversals,
  };
  if (expectUndeliverable) Object.assign(faults, { undeliverable: c.get('undeliverable'), disconnected: summary.outcomes.disconnected });
  for (const [k, v] of Object.entries(faults)) tt.ok(v > 0, `${k}: ${v}`);
  tt.equal(c.get('manual_reviews'), 0, 'nothing went to review');
  tt.equal(c.get('reversals_manual'), 0, 'no reversal gave up');
}

t.test('money invariant, POS terminals (a connection per sale, hang-ups included): 3,200 sales', async (tt) => {
  await moneyRun(tt, 20_251_126, { mode: 'per-sale', tps: 800, durationS: 4, connections: 16, seed: 424_242, disconnectRate: 0.01 }, true);
});

t.test('money invariant, acquirer hosts (many sales in flight per connection): 1,600 sales', async (tt) => {
  await moneyRun(tt, 7, { mode: 'persistent', tps: 800, durationS: 2, connections: 8, seed: 99 }, false);
});
