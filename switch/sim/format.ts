/** Text renderings of the issuer's ledger and the load generator's summary, for the CLI. */
import type { MoneyCheck } from './invariant.js';
import type { HoldRecord, LedgerSnapshot } from './ledger.js';
import type { TerminalSummary } from './terminals.js';

/** Minor units shown with two decimals (the simulators' currencies all have exponent 2). */
export function money(minor: number | string): string {
  const n = typeof minor === 'string' ? Number(minor) : minor;
  return (n / 100).toFixed(2);
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => '  ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}

function byCode(m: Record<string, number>): string {
  const keys = Object.keys(m).sort();
  return keys.length === 0 ? 'none' : keys.map((k) => `${k}:${m[k]}`).join(' ');
}

function holdRows(holds: HoldRecord[], max: number): string[] {
  if (holds.length === 0) return [];
  const rows = [['rrn', 'terminal', 'stan', 'pan', 'held', 'original', 'status', 'approval', 'reversals']];
  for (const h of holds.slice(0, max)) {
    rows.push([h.rrn, h.terminalId, h.stan, h.pan, money(h.amount), money(h.originalAmount), h.status, h.approvalCode,
      `${h.reversals.distinct}+${h.reversals.repeats}r`]);
  }
  const out = table(rows);
  if (holds.length > max) out.push(`  ... and ${holds.length - max} more`);
  return out;
}

export function formatLedger(l: LedgerSnapshot, maxRows = 20): string {
  const c = l.counters;
  const lines = [
    `issuer ledger at ${new Date(l.takenAt).toISOString()}`,
    `  requests ${c.requests}: approved ${c.approved}, declined ${byCode(c.declined)}, dropped ${c.dropped}, late ${c.late}, `
      + `duplicates ${c.duplicateOriginals}, format errors ${c.formatErrors}`,
    `  reversals ${c.reversals}: applied ${c.reversalsApplied} (partial ${c.partialReversals}), repeats ${c.reversalRepeats}, `
      + `second reversals ${c.secondReversals}, unmatched ${c.unmatchedReversals}, invalid partials ${c.invalidPartials}, `
      + `answers dropped ${c.reversalAnswersDropped}`,
    `  network management ${c.networkManagement} (sign-on ${c.signOns}, echo ${c.echoes}), unsupported ${c.unsupported}, `
      + `decode errors ${c.decodeErrors}, connections ${c.connections}, answers sent ${c.answersSent}, lost ${c.answersLost}`,
    `  refunds ${l.summary.refunds} credited ${money(l.summary.refundedAmount)}, repeats ${l.summary.refundRepeats}, refused ${l.summary.refundsRefused}`,
    `holds: ${l.holds.length} in place, ${money(l.heldAmount)} held; ${l.released.length} released (refunded sales net to zero)`,
    ...holdRows(l.holds, maxRows),
  ];
  const twice = [...l.holds, ...l.released].filter((h) => h.reversals.distinct > 1);
  if (twice.length > 0) {
    lines.push(`reversed more than once: ${twice.length}`, ...holdRows(twice, maxRows));
  }
  lines.push(`unmatched reversals: ${l.unmatched.length}`);
  if (l.unmatched.length > 0) {
    const rows = [['mti', 'terminal', 'stan', 'rrn', 'reason', 'original', 'received']];
    for (const u of l.unmatched.slice(0, maxRows)) {
      rows.push([u.mti, u.terminalId, u.stan, u.rrn, u.reason, u.original === 'not-approved' ? `not approved (${u.originalCode ?? ''})` : 'unknown', String(u.received)]);
    }
    lines.push(...table(rows));
    if (l.unmatched.length > maxRows) lines.push(`  ... and ${l.unmatched.length - maxRows} more`);
  }
  return lines.join('\n');
}

export function formatTerminalSummary(s: TerminalSummary): string {
  const o = s.outcomes;
  const rows: string[][] = [['approved', String(o.approved)]];
  for (const code of Object.keys(o.declined).sort()) rows.push([`declined ${code}`, String(o.declined[code])]);
  rows.push(
    ['timed out at the terminal', String(o.timedOut)],
    ['disconnected before the answer', String(o.disconnected)],
    ['chip-declined and reversed', String(o.chipDeclined)],
    ['errors', String(o.errors) + (o.errors > 0 || Object.keys(s.errors).length > 0 ? ` (${byCode(s.errors)})` : '')],
  );
  const l = s.latencyMs;
  return [
    `terminals: ${s.terminals} ${s.mode}, seed ${s.seed}, target ${s.targetTps} tps for ${s.durationS} s`,
    `sent ${s.sent} of ${s.planned} sales at ${s.achievedTps} tps; finished in ${s.elapsedS} s`,
    'outcomes:',
    ...table(rows),
    `reversals sent by terminals: ${s.reversals.sent}, answered ${s.reversals.answered}, repeats ${s.reversals.repeats}, failed ${s.reversals.failed}`,
    `late answers ignored: ${s.lateAnswers}`,
    `latency from scheduled send (ms, ${l.count} answered): p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}  mean ${l.mean}`,
    `approvals kept by terminals: ${s.approvedRrns.length}`,
  ].join('\n');
}

export function formatMoneyCheck(m: MoneyCheck): string {
  const lines = [
    `money invariant: ${m.ok ? 'OK' : 'VIOLATED'}`,
    `  holds without a kept approval: ${m.strayHolds.length}`,
    `  sales reversed more than once: ${m.reversedTwice.length}`,
    `  kept approvals without a hold: ${m.missingHolds.length}`,
    `  held at the issuer: ${m.balance.held} sales, ${money(m.balance.heldAmount)}; approvals the terminals kept: ${m.balance.kept}`,
    `  refunded: ${m.balance.refundedSales} sales, ${money(m.balance.refundedAmount)} credited back (each nets to zero)`,
  ];
  if (m.strayHolds.length > 0) lines.push(...holdRows(m.strayHolds, 20));
  if (m.reversedTwice.length > 0) lines.push(...holdRows(m.reversedTwice, 20));
  return lines.join('\n');
}
