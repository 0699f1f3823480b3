/**
 * The README's first command, `revswitch demo`, as a fresh checkout runs it (shorter): the
 * load with its faults, the money check, and the refund scene (a sale approved, the
 * business day closed, the terminal's cancel turned into one refund that nets the sale to
 * zero at the issuer). It exits 0 only when both hold.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { nodeArgsFor, ROOT } from './support/built.js';

const run = promisify(execFile);

interface DemoJson {
  money: { ok: boolean; strayHolds: number; reversedTwice: number; balance: { held: number; kept: number; refundedSales: number; refundedAmount: number } };
  refundScene: { ok: boolean; problem: string | null; saleCode: string; cancelCode: string; refundState: string; refundsApplied: number; creditedAtIssuer: number; amount: number; holdStatus: string };
  undos: Record<string, number>;
}

t.test('the demo: the money check holds and one sale is refunded after cutover', async (tt) => {
  const { stdout } = await run(process.execPath, [...nodeArgsFor('switch/cli/main'), 'demo', '--duration', '3', '--tps', '100', '--seed', '7', '--json'], {
    cwd: ROOT, timeout: 120_000, maxBuffer: 16 << 20,
  });
  const out = JSON.parse(stdout) as DemoJson;
  tt.ok(out.money.ok, 'the money invariant');
  tt.equal(out.money.balance.held, out.money.balance.kept, 'held at the issuer = approvals the terminals kept');
  tt.equal(out.refundScene.problem, null);
  tt.ok(out.refundScene.ok);
  tt.same([out.refundScene.saleCode, out.refundScene.cancelCode], ['00', '00'], 'approved, then the cancel answered at once');
  tt.equal(out.refundScene.refundState, 'acked', 'one refund row, acknowledged');
  tt.equal(out.refundScene.refundsApplied, 1, 'one refund at the issuer');
  tt.equal(out.refundScene.creditedAtIssuer, out.refundScene.amount, 'the whole sale credited back');
  tt.equal(out.refundScene.holdStatus, 'released');
  tt.equal(out.money.balance.refundedSales, 1);
  tt.equal(out.undos['refund acked'], 1);
});
