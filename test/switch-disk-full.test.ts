/**
 * A full disk under the real SQLite store (issue 21): the journal on a tmpfs of a few MB,
 * filled to the last byte while the switch runs, so SQLite itself answers SQLITE_FULL.
 *
 * - A new sale's write-ahead cannot be written: it is answered with a non-approval and
 *   never reaches the issuer.
 * - A sale already at the issuer when the disk fills has its approval refused by the
 *   journal: it is not delivered, and its reversal, which cannot be stored either, waits
 *   in memory and is retried.
 * - /readyz answers 503, naming the store.
 * - When space comes back, everything resumes: the reversal is stored, sent and
 *   acknowledged (the issuer's hold released), the state changes that failed are written
 *   (engine/journal-mender.ts: no sale left `forwarded` for good), new sales are approved,
 *   and every request the issuer ever saw has its journal row (no forward without its
 *   write-ahead).
 *
 * Needs root to mount the tmpfs; skipped otherwise, saying why (CI runs as root, and with
 * CI_REQUIRE_TOOLS a missing mount fails instead).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startHarness, sale } from './support/switch-harness.js';
import { until } from './support/until.js';

function mountTmpfs(sizeMb: number): { dir: string; unmount: () => void } | string {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a size-limited tmpfs';
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-disk-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs failed: ${(e as Error).message.split('\n')[0]}`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `path` until the filesystem has no byte left; returns how many bytes it took. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  let n = 0;
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 0xa5);
      for (;;) {
        try {
          n += writeSync(fd, chunk);
        } catch {
          break; // ENOSPC at this size: go on with smaller pieces
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return n;
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: r.status, body: await r.text() };
}

const fs = mountTmpfs(16);
if (typeof fs === 'string') {
  if (process.env.CI_REQUIRE_TOOLS === '1') t.fail(`the disk-full test cannot run: ${fs}`);
  else t.test('disk full under a size-limited tmpfs', { skip: `needs a size-limited tmpfs: ${fs}` }, () => undefined);
} else {
  t.teardown(() => fs.unmount());
  t.test('disk full: no forward without its write-ahead, readiness 503, the SAF waits in memory, all resumes', async (tt) => {
    const url = `sqlite:${join(fs.dir, 'journal.db')}`;
    // Slow answers, so a sale can be at the issuer while the disk fills.
    const h = await startHarness(tt, { store: url, admin: true, upstreamTimeoutMs: 8000, issuer: { latencyMs: 1200 } });
    const admin = h.admin?.port ?? 0;
    tt.ok(await h.sw.waitUntilUp(10_000), 'the link is up');
    const client = await h.client();

    const first = sale();
    tt.equal((await client.request(first, 10_000)).get(39), '00', 'before: approved');
    tt.equal((await readyz(admin)).status, 200, 'before: ready');

    // A sale reaches the issuer; then the disk fills while its answer is on the way.
    const caught = sale();
    const caughtAnswer = client.request(caught, 15_000);
    await until(() => h.events.some((e) => e.msg.mti === '0200' && e.msg.get(37) === caught.get(37)), 'the sale at the issuer');
    const filler = join(fs.dir, 'filler');
    const took = fill(filler);
    tt.ok(took > 0, `the filesystem filled (${took} bytes)`);

    const refused = sale();
    const refusedCode = (await client.request(refused, 10_000)).get(39);
    tt.ok(refusedCode === '91' || refusedCode === '96', `a new sale with no room for its write-ahead: a non-approval (${refusedCode})`);
    tt.notOk(h.events.some((e) => e.msg.get(37) === refused.get(37)), 'and never forwarded');
    const caughtCode = (await caughtAnswer).get(39);
    tt.not(caughtCode, '00', `an approval the journal could not keep is not delivered (${caughtCode})`);
    const notReady = await readyz(admin);
    tt.equal(notReady.status, 503, 'readiness says not ready');
    tt.match(notReady.body, /store not writable/, `naming the store: ${notReady.body.trim()}`);
    tt.notOk(h.events.some((e) => e.msg.mti.startsWith('04') && e.msg.get(37) === caught.get(37)),
      'its reversal is not sent while it cannot be stored (no undo without its row)');
    tt.ok(h.sw.reversals.outstanding >= 1, 'but waits in memory');

    // Space comes back.
    rmSync(filler);
    await until(async () => (await readyz(admin)).status === 200, 'ready again', 20_000, 100);
    await until(() => h.events.some((e) => e.msg.mti.startsWith('04') && e.msg.get(37) === caught.get(37)), 'the reversal at the issuer', 20_000);
    await until(() => h.sw.reversals.outstanding === 0, 'the reversal acknowledged', 20_000);
    tt.equal(h.issuer.ledger().holds.filter((x) => x.rrn === caught.get(37) && x.status === 'held').length, 0, 'its hold is released');
    const after = sale();
    tt.equal((await client.request(after, 10_000)).get(39), '00', 'after: a new sale is approved');

    // Every request the issuer saw has its journal row: nothing went out without its write-ahead.
    const store = h.sw.journal.store;
    await store.flush();
    const rows = await store.recentTxns(0);
    const journaled = new Set(rows.map((r) => r.rrn));
    const forwarded = h.events.filter((e) => e.msg.mti === '0200').map((e) => e.msg.get(37));
    tt.same(forwarded.filter((rrn) => !journaled.has(rrn ?? '')), [], `every forwarded sale was journaled first (${forwarded.length} forwarded)`);
    tt.same((await store.unfinishedTxns()).map((r) => [r.rrn === caught.get(37) ? 'caught' : r.rrn, r.state]), [], 'nothing left in flight');
    const undo = (await store.reversals()).filter((r) => r.txnId === rows.find((x) => x.rrn === caught.get(37))?.id);
    tt.same(undo.map((r) => r.state), ['acked'], 'one reversal for the caught sale, acknowledged');
    const caughtRow = rows.find((x) => x.rrn === caught.get(37));
    tt.has(caughtRow, { state: 'undeliverable', responseCode: '00', reversalId: undo[0]?.id },
      'its row says what happened, written once the disk had room: approved at the issuer, not delivered, reversed');
  });
}
