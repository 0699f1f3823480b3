/**
 * Reconciliation end to end: the switch on SQLite in a temporary directory (and on
 * PostgreSQL), terminals'
 * traffic with timeouts, a partial approval, a decline and a terminal's reversal; then
 * the issuer loses a reversal, so it keeps a hold the switch undid. The issuer simulator
 * writes its settlement file with one injected fault of every kind. `revswitch reconcile
 * --apply`, run as another process while the switch runs, must find each fault, and the
 * lost reversal, as its class and nothing else; queue exactly the refunds and review items
 * they call for (a second --apply queues none); and the running switch must send the
 * refunds, so the issuer's ledger nets to zero for the sales that were undone.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { getDialect, reversalOf, transmissionTime } from '../codec/index.js';
import type { ReconLine } from '../switch/recon/classes.js';
import type { InjectedFault } from '../switch/sim/settlement.js';
import { PgSchemas, pgReady } from './support/pg.js';
import { nextStan, sale, startHarness } from './support/switch-harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

interface Report {
  runId: string;
  lines: ReconLine[];
  applied: { refundsQueued: number; reviewsQueued: number; refundsExisting: number; reviewsExisting: number; applied: { kind: string; id: string; cls: string }[] } | null;
}

/** The CLI in a process of its own (async: this process runs the switch meanwhile). */
async function reconcileCli(args: string[]): Promise<Report> {
  const { stdout } = await run(process.execPath, ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts'), 'reconcile', ...args, '--json'], { cwd: ROOT, maxBuffer: 1 << 24 });
  return JSON.parse(stdout) as Report;
}

async function scenario(tt: Test, dir: string, storeUrl: string): Promise<void> {
  const h = await startHarness(tt, {
    store: storeUrl,
    issuer: {
      seed: 7, approveRate: 1, settlementDir: join(dir, 'settlement'), settlementUpstream: 'issuer',
      settlementFaults: { drop: 1, duplicate: 1, amount: 1, settleReversed: 1, unknown: 1 },
    },
    reversal: { maxAttempts: 2, responseTimeoutMs: 200, backoffMs: [50] },
  });
  const c = await h.client();
  const rrns: Record<string, string> = {};
  const send = async (name: string, amount: string): Promise<string | undefined> => {
    const s = sale({ amount });
    rrns[name] = s.get(37) as string;
    return (await c.request(s, 10_000)).get(39);
  };

  // Kept approvals, a decline, a partial approval, two approvals lost on the way back
  // (timeouts the switch reverses, and the issuer applies), a terminal's own reversal.
  for (let i = 0; i < 8; i++) tt.equal(await send(`kept${i}`, String(1000 + 100 * i)), '00', `sale ${i} approved`);
  tt.equal(await send('declined', '1505'), '05', 'a decline');
  tt.equal(await send('partial', '1810'), '10', 'a partial approval');
  tt.not(await send('timeout1', '2099'), '00', 'an approval lost: the terminal is declined');
  tt.not(await send('timeout2', '3099'), '00', 'another');
  const cancelled = sale({ amount: '1400' });
  rrns.cancelled = cancelled.get(37) as string;
  tt.equal((await c.request(cancelled, 10_000)).get(39), '00', 'a sale the terminal then reverses');
  const rev = reversalOf(getDialect('iso87a'), cancelled, { reason: '17', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()) });
  tt.equal((await c.request(rev, 10_000)).get(39), '00', 'the terminal\'s reversal is answered');
  await h.until(() => h.issuer.ledger().released.length >= 3 && h.sw.reversals.outstanding === 0, 'the three reversals applied and acknowledged', 15_000);

  // The issuer loses this one's reversal: the switch undid the sale, the issuer keeps it.
  h.issuer.loseReversals = true;
  tt.not(await send('lost', '4099'), '00', 'an approval lost, and then its reversal');
  const lostTxn = async (): Promise<string | undefined> => {
    const [txn] = await h.store.findTxns({ rrn: rrns.lost });
    return txn?.reversalId === null || txn === undefined ? undefined : (await h.store.reversal(txn.reversalId))?.state;
  };
  let lostState: string | undefined;
  await h.until(() => { void lostTxn().then((s) => { lostState = s; }); return lostState === 'manual'; }, 'its reversal handed to a person', 15_000);
  h.issuer.loseReversals = false;
  await h.barrier(c);

  const [csv, faultsFile] = await h.issuer.writeSettlement();
  const faults = (JSON.parse(readFileSync(faultsFile, 'utf8')) as { faults: InjectedFault[] }).faults;
  tt.same(faults.map((f) => f.kind).sort(), ['amount', 'drop', 'duplicate', 'settleReversed', 'unknown'], 'one fault of every kind injected');

  // What each fault and the lost reversal must come out as (a fault may land on the lost sale: the issuer cannot tell it apart).
  const CLASS: Record<string, string> = { drop: 'missing_at_issuer', duplicate: 'duplicate_in_file', amount: 'amount_mismatch', settleReversed: 'reversal_not_applied', unknown: 'unknown_to_switch' };
  const expected: [string, string][] = [];
  const onLost = faults.find((f) => f.rrn === rrns.lost);
  for (const f of faults) if (f.rrn !== rrns.lost) expected.push([f.rrn, CLASS[f.kind]]);
  if (onLost?.kind !== 'drop') expected.push([rrns.lost, 'posted_but_undone']);
  if (onLost?.kind === 'duplicate') expected.push([rrns.lost, 'duplicate_in_file']);
  const first = await reconcileCli(['--file', csv, '--store', storeUrl, '--upstream', 'issuer', '--apply']);
  const found = first.lines.map((l): [string, string] => [l.rrn, l.cls]);
  tt.same(found.sort(), expected.sort(), 'each fault, and the lost reversal, as its class; nothing else differs');

  const refundsFor = first.lines.filter((l) => l.action === 'refund').map((l) => l.rrn).sort();
  const reviewsFor = first.lines.filter((l) => l.action === 'review').length;
  tt.same([first.applied?.refundsQueued, first.applied?.reviewsQueued], [refundsFor.length, reviewsFor], 'exactly the refunds and review items the classes call for');
  // An amount fault on the lost sale makes the file settle more than it approved: refunding that is a person's call (review), never automatic.
  const lostLine = first.lines.find((l) => l.rrn === rrns.lost && l.cls === 'posted_but_undone');
  tt.ok(onLost?.kind === 'drop' || (onLost?.kind === 'amount' ? lostLine?.action === 'review' : refundsFor.includes(rrns.lost)),
    `the sale the issuer kept after the switch undid it is refunded, or reviewed when the file settles more than its approval (fault on it: ${onLost?.kind ?? 'none'})`);

  // The running switch claims the refunds --apply queued from the other process, and sends them.
  const refundedAt = (rrn: string): boolean => h.issuer.ledger().refunds.some((r) => r.rrn === rrn);
  await h.until(() => refundsFor.every(refundedAt), 'the refunds reach the issuer', 20_000);
  const holdOf = (rrn: string): string | undefined => [...h.issuer.ledger().holds, ...h.issuer.ledger().released].find((x) => x.rrn === rrn)?.amount;
  for (const rrn of refundsFor) tt.equal(Number(holdOf(rrn)), 0, `the issuer's ledger nets to zero for ${rrn}`);
  const refundRow = first.applied?.applied.find((a) => a.kind === 'refund');
  tt.ok(refundRow !== undefined, 'a refund was queued (the settle-reversed fault)');
  tt.ok((await h.store.history(refundRow?.id ?? '')).some((x) => (x.detail ?? '').includes(first.runId)), 'the run id is in the refund\'s history');

  const second = await reconcileCli(['--file', csv, '--store', storeUrl, '--upstream', 'issuer', '--apply']);
  tt.same([second.applied?.refundsQueued, second.applied?.reviewsQueued], [0, 0], 'a second --apply of the same file queues nothing', { lines: second.lines });
  const runs = JSON.parse((await run(process.execPath, ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts'), 'reconcile', '--list', '--store', storeUrl, '--json'], { cwd: ROOT })).stdout) as { sha256: string }[];
  tt.equal(runs.length, 2, 'both runs recorded');
  tt.equal(runs[0].sha256, runs[1].sha256, 'of the same file');
}

t.test('on SQLite: settlement faults and a lost reversal found, fixed, and fixed once', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-recon-e2e-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await scenario(tt, dir, `sqlite:${join(dir, 'journal.db')}`);
});

if (await pgReady(t, 'on PostgreSQL')) {
  const schemas = new PgSchemas();
  t.teardown(() => schemas.dropAll());
  t.test('on PostgreSQL: the same, with --apply from another process', async (tt) => {
    const dir = mkdtempSync(join(tmpdir(), 'revswitch-recon-e2e-pg-'));
    tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
    await scenario(tt, dir, schemas.url(schemas.next()));
  });
}
