/**
 * The issuer simulator's settlement file (switch/sim/settlement.ts, settlement-writer.ts):
 * one row per settled movement, dated by the settlement calendar, keyed to the sale it
 * moves; injected faults only where eligible, recorded, and the same for one seed; files
 * written at cutover and at close, whole and mode 0600; the CLI flags.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { formatF90, getDialect, IsoMessage, reversalOf } from '../codec/index.js';
import { BusinessCalendar, loadDefaultRules } from '../rules/index.js';
import { connectClient } from '../switch/sim/client.js';
import { startIssuer } from '../switch/sim/issuer.js';
import { Ledger } from '../switch/sim/ledger.js';
import {
  AMOUNT_FAULT_DELTA, SETTLEMENT_COLUMNS, settlementCsv, settlementDays,
  type InjectedFault, type SettlementDay, type SettlementFaults, type SettlementRow,
} from '../switch/sim/settlement.js';
import { SettlementWriter } from '../switch/sim/settlement-writer.js';

const D87 = getDialect('iso87a');
const PAN = '4761739001010119';
const FULL_PAN = /4761739001\d{6}/;
const CAL = new BusinessCalendar({ timeZone: 'Europe/Berlin', cutover: '23:00', weekend: ['saturday', 'sunday'], holidays: [] });
/** Tuesday 2025-06-03, 10:00 in Berlin (UTC+2). */
const T0 = Date.UTC(2025, 5, 3, 8, 0, 0);
/** The cutover of that day: 23:00 Berlin. */
const CUT = Date.UTC(2025, 5, 3, 21, 0, 0);

let stanSeq = 0;

function sale(amount: number, over: Record<number, string> = {}, mti = '0200'): IsoMessage {
  const n = ++stanSeq;
  return new IsoMessage(mti, {
    2: PAN, 3: '000000', 4: String(amount).padStart(12, '0'), 7: '0603080000', 11: String(n).padStart(6, '0'), 32: '123456',
    37: 'R' + String(n).padStart(11, '0'), 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978', ...over,
  });
}

function approve(l: Ledger, m: IsoMessage, at: number): IsoMessage {
  l.recordOriginal(m, '00', String(100000 + Number(m.get(11))), false, at);
  return m;
}

function refund(orig: IsoMessage, amount: number): IsoMessage {
  return new IsoMessage('0220', {
    2: PAN, 3: '200000', 4: String(amount).padStart(12, '0'), 7: '0603090000', 11: String(++stanSeq).padStart(6, '0'),
    37: orig.get(37) as string, 41: orig.get(41) as string, 49: '978',
    90: formatF90({ mti: orig.mti, stan: orig.get(11) as string, transmissionDateTime: orig.get(7) as string, acquirer: orig.get(32) }),
  });
}

function days(l: Ledger, faults?: SettlementFaults, seed = 7): SettlementDay[] {
  return settlementDays({ snapshot: l.snapshot(), calendar: CAL, upstream: 'demo-issuer', seed, faults });
}

const brief = (r: SettlementRow): string => `${r.businessDate} ${r.type} ${r.rrn} ${r.stan} ${r.amountMinor}`;

t.test('a sale, a partial and a full reversal, a refund: one row each, keyed to the sale; authorizations and declines never settle', async (tt) => {
  const l = new Ledger();
  const kept = approve(l, sale(5000), T0);
  const part = approve(l, sale(10000), T0 + 1000);
  const full = approve(l, sale(4000), T0 + 2000);
  const refunded = approve(l, sale(6000), T0 + 3000);
  const auth = approve(l, sale(8000, {}, '0100'), T0 + 4000);
  l.recordOriginal(sale(9000), '51', null, false, T0 + 5000);
  tt.equal(l.reverse(reversalOf(D87, part, { reason: '06', finalAmount: '3000' }), T0 + 60_000).kind, 'applied');
  tt.equal(l.reverse(reversalOf(D87, full, { reason: '68' }), T0 + 61_000).kind, 'applied');
  tt.equal(l.reverse(reversalOf(D87, auth, { reason: '68' }), T0 + 62_000).kind, 'applied');
  tt.equal(l.refund(refund(refunded, 2500), T0 + 120_000).kind, 'applied');
  tt.equal(l.refund(refund(refunded, 9999), T0 + 121_000).kind, 'refused', 'a refused refund moves nothing');

  const snap = l.snapshot();
  const partHold = snap.holds.find((h) => h.rrn === part.get(37));
  tt.same([partHold?.reversedAt, partHold?.reversedAmount, partHold?.releasedAt], [T0 + 60_000, '000000007000', null],
    'the ledger keeps when a partial reversal happened and what it released');

  const out = days(l);
  tt.equal(out.length, 1);
  const d = out[0];
  tt.equal(d.businessDate, '2025-06-03');
  tt.same(d.faults, []);
  tt.same(d.rows.map(brief), [
    `2025-06-03 sale ${kept.get(37)} ${kept.get(11)} 5000`,
    `2025-06-03 sale ${part.get(37)} ${part.get(11)} 10000`,
    `2025-06-03 sale ${full.get(37)} ${full.get(11)} 4000`,
    `2025-06-03 sale ${refunded.get(37)} ${refunded.get(11)} 6000`,
    `2025-06-03 reversal ${part.get(37)} ${part.get(11)} 7000`,
    `2025-06-03 reversal ${full.get(37)} ${full.get(11)} 4000`,
    `2025-06-03 refund ${refunded.get(37)} ${refunded.get(11)} 2500`,
  ], 'in time order; the 0100 and its reversal, the decline and the refused refund have no row');
  const first = d.rows[0];
  tt.same(first, {
    businessDate: '2025-06-03', rrn: kept.get(37), terminal: 'TERM0001', stan: kept.get(11), f7: '0603080000', amountMinor: '5000',
    currency: '978', type: 'sale', approvalCode: String(100000 + Number(kept.get(11))), merchant: 'MERCHANT0000001',
    panMasked: '476173******0119', upstream: 'demo-issuer',
  });
  const rev = d.rows[4];
  tt.same([rev.terminal, rev.f7, rev.approvalCode], ['TERM0001', '0603080000', String(100000 + Number(part.get(11)))], 'a reversal row names its sale');

  // What each sale nets to in the file is what the issuer finally kept.
  for (const h of [...snap.holds, ...snap.released].filter((x) => x.mti === '0200')) {
    const net = d.rows.filter((r) => r.rrn === h.rrn).reduce((s, r) => s + (r.type === 'sale' ? 1 : -1) * Number(r.amountMinor), 0);
    tt.equal(net, Number(h.amount), `${h.rrn} nets to what is held`);
  }

  const csv = settlementCsv(d.rows);
  const lines = csv.split('\n');
  tt.equal(lines[0], 'business_date,rrn,terminal,stan,f7,amount_minor,currency,type,approval_code,merchant,pan_masked,upstream');
  tt.equal(lines[1], `2025-06-03,${kept.get(37)},TERM0001,${kept.get(11)},0603080000,5000,978,sale,${first.approvalCode},MERCHANT0000001,476173******0119,demo-issuer`);
  tt.equal(lines.length, d.rows.length + 2, 'a newline after every row');
  tt.equal(lines.at(-1), '');
  tt.notMatch(csv, FULL_PAN);
});

t.test('CSV fields with a comma, a quote or a line break are quoted (RFC 4180)', async (tt) => {
  const l = new Ledger();
  approve(l, sale(1234, { 42: 'ACME, "Best"' }), T0);
  const csv = settlementCsv(days(l)[0].rows);
  tt.match(csv.split('\n')[1], /,1234,978,sale,\d{6},"ACME, ""Best""",476173\*{6}0119,demo-issuer$/);
  tt.equal(SETTLEMENT_COLUMNS.length, 12);
});

t.test('the business date: the cutover starts the next one, the weekend rolls forward, a late reversal dates its own row', async (tt) => {
  const l = new Ledger();
  const before = approve(l, sale(1000), CUT - 1);
  const after = approve(l, sale(2000), CUT);
  l.reverse(reversalOf(D87, before, { reason: '68' }), CUT + 1000);
  // Friday 2025-06-06 23:30 in Berlin: after the cutover, and Saturday and Sunday do not settle.
  const friday = approve(l, sale(3000), Date.UTC(2025, 5, 6, 21, 30, 0));
  const out = days(l);
  tt.same(out.map((d) => d.businessDate), ['2025-06-03', '2025-06-04', '2025-06-09']);
  tt.same(out[0].rows.map(brief), [`2025-06-03 sale ${before.get(37)} ${before.get(11)} 1000`]);
  tt.same(out[1].rows.map(brief), [
    `2025-06-04 sale ${after.get(37)} ${after.get(11)} 2000`,
    `2025-06-04 reversal ${before.get(37)} ${before.get(11)} 1000`,
  ], 'the reversal after the cutover settles on the next date, still keyed to its sale');
  tt.same(out[2].rows.map(brief), [`2025-06-09 sale ${friday.get(37)} ${friday.get(11)} 3000`]);
});

/** A day with every kind of movement: which sales may take which fault. */
function busyLedger(): { l: Ledger; kept: Set<string>; reversed: Set<string>; other: Set<string> } {
  const l = new Ledger();
  const kept = new Set<string>();
  const reversed = new Set<string>();
  const other = new Set<string>();
  let at = T0;
  for (let i = 0; i < 6; i++) kept.add(approve(l, sale(1000 + i), at += 1000).get(37) as string);
  for (let i = 0; i < 3; i++) {
    const m = approve(l, sale(2000 + i, { 41: 'TERM0002' }), at += 1000);
    l.reverse(reversalOf(D87, m, { reason: '68' }), at += 1000);
    reversed.add(m.get(37) as string);
  }
  const p = approve(l, sale(5000), at += 1000);
  l.reverse(reversalOf(D87, p, { reason: '06', finalAmount: '1000' }), at += 1000);
  const r = approve(l, sale(6000), at += 1000);
  l.refund(refund(r, 100), at += 1000);
  const a = approve(l, sale(7000, {}, '0100'), at += 1000);
  for (const m of [p, r, a]) other.add(m.get(37) as string);
  return { l, kept, reversed, other };
}

/** The clean rows with the recorded faults applied, in the file's order. */
function withFaults(clean: SettlementRow[], faults: InjectedFault[]): SettlementRow[] {
  const of = (kind: string, r: SettlementRow): InjectedFault | undefined =>
    faults.find((f) => f.kind === kind && f.rrn === r.rrn && r.type === (kind === 'settleReversed' ? 'reversal' : 'sale'));
  const out: SettlementRow[] = [];
  for (const r of clean) {
    if (of('drop', r) || of('settleReversed', r)) continue;
    const amount = of('amount', r);
    out.push(amount ? { ...r, amountMinor: amount.amountMinor } : r);
    if (of('duplicate', r)) out.push(r);
  }
  return out;
}

t.test('each fault kind is chosen only among eligible movements, never two on one sale, and recorded', async (tt) => {
  const { l, kept, reversed, other } = busyLedger();
  const clean = days(l)[0].rows;
  const asked: SettlementFaults = { drop: 2, duplicate: 1, amount: 1, settleReversed: 2, unknown: 2 };
  for (const seed of [1, 2, 3, 4, 5]) {
    const [d] = days(l, asked, seed);
    tt.same(d.shortfalls, [], `seed ${seed}: enough of each`);
    const byKind = (k: string): InjectedFault[] => d.faults.filter((f) => f.kind === k);
    tt.same([byKind('drop').length, byKind('duplicate').length, byKind('amount').length, byKind('settleReversed').length, byKind('unknown').length],
      [2, 1, 1, 2, 2]);
    for (const f of [...byKind('drop'), ...byKind('duplicate'), ...byKind('amount')]) tt.ok(kept.has(f.rrn), `seed ${seed}: ${f.kind} on a kept sale`);
    for (const f of byKind('settleReversed')) tt.ok(reversed.has(f.rrn), `seed ${seed}: settleReversed on a fully reversed sale`);
    const rrns = d.faults.map((f) => f.rrn);
    tt.equal(new Set(rrns).size, rrns.length, 'one fault per sale');
    for (const f of d.faults) tt.notOk(other.has(f.rrn), 'partly reversed, refunded and authorizations are never chosen');
    for (const f of d.faults) tt.equal(f.businessDate, '2025-06-03');

    const unknown = byKind('unknown');
    const unknownRows = d.rows.filter((r) => unknown.some((f) => f.rrn === r.rrn));
    tt.equal(unknownRows.length, 2);
    for (const r of unknownRows) {
      tt.equal(r.type, 'sale');
      tt.ok(['TERM0001', 'TERM0002'].includes(r.terminal), 'on a terminal that exists');
      tt.notOk(clean.some((c) => c.rrn === r.rrn || c.stan === r.stan), 'a fresh RRN and STAN');
      tt.match(r.stan, /^\d{6}$/);
    }
    for (const f of byKind('amount')) {
      const orig = clean.find((r) => r.rrn === f.rrn && r.type === 'sale');
      tt.equal(BigInt(f.amountMinor), BigInt(orig?.amountMinor ?? '0') + AMOUNT_FAULT_DELTA);
    }
    for (const f of byKind('settleReversed')) {
      tt.ok(d.rows.some((r) => r.rrn === f.rrn && r.type === 'sale'), 'the sale is settled');
      tt.notOk(d.rows.some((r) => r.rrn === f.rrn && r.type === 'reversal'), 'without its reversal');
    }
    const known = d.rows.filter((r) => !unknown.some((f) => f.rrn === r.rrn));
    tt.same(known, withFaults(clean, d.faults), 'nothing else differs from the clean file');
  }
});

t.test('fewer eligible than asked: what is possible is injected, and the shortfall recorded', async (tt) => {
  const l = new Ledger();
  const a = approve(l, sale(1000), T0);
  const b = approve(l, sale(2000), T0 + 1000);
  // Reversed after the cutover: its reversal row is in the next file, so it cannot settle-reversed here.
  const late = approve(l, sale(3000), T0 + 2000);
  l.reverse(reversalOf(D87, late, { reason: '68' }), CUT + 5000);
  const r = approve(l, sale(4000), T0 + 3000);
  l.refund(refund(r, 4000), T0 + 4000);
  const [d, next] = days(l, { drop: 1, duplicate: 3, settleReversed: 1 });
  tt.same(d.shortfalls, [{ kind: 'duplicate', requested: 3, injected: 1 }, { kind: 'settleReversed', requested: 1, injected: 0 }]);
  tt.same(d.faults.map((f) => f.kind), ['drop', 'duplicate']);
  tt.not(d.faults[0].rrn, d.faults[1].rrn);
  tt.ok(d.faults.every((f) => f.rrn !== late.get(37) && f.rrn !== r.get(37)));
  tt.same(d.faults.map((f) => f.rrn).sort(), [a.get(37), b.get(37)].sort(), 'the two kept sales, one fault each');
  tt.same(next.shortfalls.map((s) => s.kind), ['drop', 'duplicate', 'settleReversed'], 'the next file has only a reversal: nothing is eligible');
  tt.same(next.faults, []);
  tt.same(days(new Ledger(), { drop: 1 }), [], 'no movements, no file');
});

t.test('the same seed and ledger choose the same faults; other seeds choose others', async (tt) => {
  const { l } = busyLedger();
  const asked: SettlementFaults = { drop: 1, duplicate: 1, amount: 1, settleReversed: 1, unknown: 1 };
  tt.same(days(l, asked, 42), days(l, asked, 42));
  const once = JSON.stringify(days(l, asked, 42)[0].faults);
  const others = [43, 44, 45, 46, 47, 48].map((s) => JSON.stringify(days(l, asked, s)[0].faults));
  tt.ok(others.some((o) => o !== once));
});

function tmp(tt: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-settle-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function readCsv(path: string): string[][] {
  return readFileSync(path, 'utf8').trimEnd().split('\n').map((line) => line.split(','));
}

t.test('the writer: a date is written once it closes, the rest at close; a closed date never changes', async (tt) => {
  const dir = tmp(tt);
  const l = new Ledger();
  let clock = T0;
  const w = new SettlementWriter({ settlementDir: dir, calendar: CAL, seed: 3, snapshot: () => l.snapshot(), now: () => clock, settlementFaults: { drop: 1 } });
  const first = approve(l, sale(1000), T0);
  approve(l, sale(2000), T0 + 1000);
  tt.same(await w.writeClosed(), [], 'the open date is not written at a check');
  clock = CUT + 10;
  const written = await w.writeClosed();
  tt.same(written, [join(dir, 'settlement-2025-06-03.csv'), join(dir, 'settlement-2025-06-03.faults.json')]);
  const day1 = readFileSync(written[0], 'utf8');
  tt.equal(statSync(written[0]).mode & 0o777, 0o600);
  tt.equal(statSync(written[1]).mode & 0o777, 0o600);
  const faults = JSON.parse(readFileSync(written[1], 'utf8')) as { businessDate: string; faults: InjectedFault[]; requested: SettlementFaults; shortfalls: unknown[] };
  tt.same([faults.businessDate, faults.requested, faults.shortfalls, faults.faults.length], ['2025-06-03', { drop: 1 }, [], 1]);
  tt.same(w.faults(), faults.faults);

  // The next date: a reversal of the first sale, and a new sale (the one kept sale there, so dropped).
  l.reverse(reversalOf(D87, first, { reason: '68' }), CUT + 1000);
  const next = approve(l, sale(3000), CUT + 2000);
  tt.same(await w.writeClosed(), [], 'nothing new has closed');
  const atClose = await w.close();
  tt.same(atClose, [join(dir, 'settlement-2025-06-04.csv'), join(dir, 'settlement-2025-06-04.faults.json')], 'close writes only what is still due');
  tt.equal(readFileSync(written[0], 'utf8'), day1);
  const rows = readCsv(join(dir, 'settlement-2025-06-04.csv'));
  tt.same(rows.slice(1).map((r) => [r[1], r[7]]), [[first.get(37), 'reversal']]);
  tt.same(w.faults().map((f) => [f.businessDate, f.kind, f.rrn]), [...faults.faults.map((f) => [f.businessDate, f.kind, f.rrn]), ['2025-06-04', 'drop', next.get(37)]]);
  tt.same(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'no temp file left');

  const again = tmp(tt);
  await w.writeAll(again);
  tt.equal(readFileSync(join(again, 'settlement-2025-06-03.csv'), 'utf8'), day1, 'a closed date is the same when written again');
  tt.equal(w.files().length, 8, 'two dates, each a CSV and its faults, in two directories');
});

t.test('the writer watches the clock: the cutover writes the closed date; without faults no faults file', async (tt) => {
  const dir = tmp(tt);
  const l = new Ledger();
  let clock = CUT - 5000;
  const w = new SettlementWriter({ settlementDir: dir, calendar: CAL, seed: 3, snapshot: () => l.snapshot(), now: () => clock, checkMs: 5 });
  tt.teardown(() => w.close());
  approve(l, sale(1000), clock);
  w.start();
  clock = CUT + 1;
  const csv = join(dir, 'settlement-2025-06-03.csv');
  const deadline = Date.now() + 5000;
  while (!readdirSync(dir).includes('settlement-2025-06-03.csv') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  tt.equal(readCsv(csv).length, 2, 'header and the one sale');
  tt.same(readdirSync(dir), ['settlement-2025-06-03.csv']);
});

t.test('writeSettlement without a directory is refused; bad options are RangeErrors at start', async (tt) => {
  const issuer = await startIssuer({ seed: 1 });
  await tt.rejects(issuer.writeSettlement(), /no directory/);
  await issuer.close();
  await tt.rejects(startIssuer({ settlementDir: tmp(tt), settlementFaults: { drop: -1 } }), RangeError);
  await tt.rejects(startIssuer({ settlementDir: tmp(tt), settlementFaults: { drop: 1.5 } }), RangeError);
  await tt.rejects(startIssuer({ settlementDir: tmp(tt), settlementUpstream: ' ' }), RangeError);
});

t.test('over TCP: sales and a reversal, then close writes the file and its faults', async (tt) => {
  const dir = tmp(tt);
  const issuer = await startIssuer({
    seed: 11, approveRate: 1, settlementDir: dir, settlementUpstream: 'bank-a',
    settlementFaults: { drop: 1, duplicate: 1, amount: 3, settleReversed: 1, unknown: 1 },
  });
  const client = await connectClient({ port: issuer.port });
  const sales = [1500, 2500, 3500, 4500].map((a) => sale(a, { 7: '0603080000' }));
  for (const s of sales) tt.equal((await client.request(s)).get(39), '00');
  const rev = reversalOf(D87, sales[3], { reason: '68' });
  tt.equal((await client.request(rev)).mti, '0410');
  await client.close();
  await issuer.close();

  const holds = issuer.ledger().released.concat(issuer.ledger().holds);
  const date = loadDefaultRules().calendar.businessDate(holds[0].placedAt);
  const csvPath = join(dir, `settlement-${date}.csv`);
  const faultsPath = join(dir, `settlement-${date}.faults.json`);
  tt.same(issuer.settlementFiles(), [csvPath, faultsPath]);
  tt.equal(statSync(csvPath).mode & 0o777, 0o600);
  const text = readFileSync(csvPath, 'utf8');
  tt.notMatch(text, FULL_PAN, 'masked PANs only');
  const [header, ...rows] = readCsv(csvPath);
  tt.same(header, [...SETTLEMENT_COLUMNS]);
  const file = JSON.parse(readFileSync(faultsPath, 'utf8')) as { faults: InjectedFault[]; shortfalls: unknown[]; upstream: string; seed: number };
  tt.same(file.faults, issuer.settlementFaults());
  tt.same([file.upstream, file.seed], ['bank-a', 11]);
  tt.same(file.shortfalls, [{ kind: 'amount', requested: 3, injected: 1 }], 'three kept sales: one each for drop, duplicate and amount');
  const kinds = file.faults.map((f) => f.kind).sort();
  tt.same(kinds, ['amount', 'drop', 'duplicate', 'settleReversed', 'unknown']);
  const of = (k: string): InjectedFault => file.faults.find((f) => f.kind === k) as InjectedFault;
  tt.equal(of('settleReversed').rrn, sales[3].get(37), 'the only fully reversed sale');
  const count = (rrn: string, type: string): number => rows.filter((r) => r[1] === rrn && r[7] === type).length;
  tt.equal(count(of('drop').rrn, 'sale'), 0);
  tt.equal(count(of('duplicate').rrn, 'sale'), 2);
  tt.equal(rows.find((r) => r[1] === of('amount').rrn)?.[5], of('amount').amountMinor);
  tt.same([count(of('settleReversed').rrn, 'sale'), count(of('settleReversed').rrn, 'reversal')], [1, 0]);
  tt.equal(count(of('unknown').rrn, 'sale'), 1);
  tt.equal(rows.length, 4 - 1 + 1 + 1, 'four sales, less one dropped, one twice, one unknown; no reversal row');
  for (const r of rows) tt.same([r[0], r[11], r[6]], [date, 'bank-a', '978']);
});

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts')];

t.test('CLI: a bad --settlement-faults is a usage error naming the bad part', async (tt) => {
  const dir = tmp(tt);
  const run = (args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [...CLI, 'sim', 'issuer', '--listen', '127.0.0.1:0', ...args], { cwd: ROOT, encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  };
  const cases: [string[], RegExp][] = [
    [['--settlement-dir', dir, '--settlement-faults', 'drop=1,dup=2'], /--settlement-faults: expected KIND=COUNT, got "dup=2" \(kinds: drop, duplicate, amount, settle-reversed, unknown\)/],
    [['--settlement-dir', dir, '--settlement-faults', 'drop=x'], /--settlement-faults: expected KIND=COUNT, got "drop=x"/],
    [['--settlement-dir', dir, '--settlement-faults', 'drop=1,,amount=1'], /--settlement-faults: expected KIND=COUNT, got ""/],
    [['--settlement-dir', dir, '--settlement-faults', 'unknown=1,unknown=2'], /--settlement-faults: given twice, got "unknown=2"/],
    [['--settlement-faults', 'drop=1'], /--settlement-faults needs --settlement-dir/],
    [['--settlement-dir', dir, '--settlement-upstream', ''], /settlementUpstream must not be empty/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    tt.equal(r.status, 2, args.join(' '));
    tt.match(r.stderr, re);
    tt.match(r.stderr, /usage: revswitch sim issuer [^]*--settlement-dir DIR/);
  }
});

t.test('CLI: the issuer writes its settlement file at exit and lists it on stderr', async (tt) => {
  const dir = join(tmp(tt), 'new', 'settle');
  const child = spawn(process.execPath, [...CLI, 'sim', 'issuer', '--listen', '127.0.0.1:0', '--seed', '2', '--approve-rate', '1',
    '--settlement-dir', dir, '--settlement-faults', 'settle-reversed=1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  tt.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 20000;
  while (!/listening on 127\.0\.0\.1:(\d+)/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1]);
  const client = await connectClient({ port });
  tt.equal((await client.request(sale(777))).get(39), '00');
  await client.close();
  child.kill('SIGTERM');
  tt.equal(await exited, 0, stderr);
  const files = readdirSync(dir).sort();
  tt.equal(files.length, 2);
  tt.match(files[0], /^settlement-\d{4}-\d\d-\d\d\.csv$/);
  tt.match(stderr, new RegExp(`settlement file ${join(dir, files[0]).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
  tt.match(stderr, /settlement \d{4}-\d\d-\d\d: 1 settleReversed fault\(s\) asked for, 0 eligible/);
  const rows = readCsv(join(dir, files[0]));
  tt.same(rows.slice(1).map((r) => [r[5], r[7], r[11]]), [['777', 'sale', 'demo-issuer']]);
});
