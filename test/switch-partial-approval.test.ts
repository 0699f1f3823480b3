/**
 * A partial approval (F39 10, F4 of the answer below the amount asked) answered again to a
 * duplicate once the sale has left memory: the switch rebuilds the answer from the journal
 * and must give the amount the issuer approved, not the amount asked, or the terminal
 * would hand over goods for money the issuer never granted. On SQLite. Fails when the
 * journal stops keeping the approved amount.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sale, startHarness } from './support/switch-harness.js';

t.test('a duplicate of a partial approval, answered from the journal, carries the approved amount', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-partial-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = await startHarness(tt, { store: `sqlite:${join(dir, 'journal.db')}`, maxRetained: 1 });
  const c = await h.client();
  // ..10: the simulator approves half, 50.05 of 100.10.
  const s = sale({ amount: '10010' });
  const first = await c.request(s, 10_000);
  tt.same([first.get(39), first.get(4)], ['10', '000000005005'], 'approved in part, as the issuer said');
  // Another sale pushes it out of memory (maxRetained 1): its duplicate is answered from the journal.
  await c.request(sale({ terminal: 'TERM0002' }), 10_000);
  await h.until(() => h.sw.txns.size <= 1, 'the table swept down to its cap');
  await h.store.flush();
  const again = await c.request(s.clone(), 10_000);
  tt.same([again.get(39), again.get(4), again.get(38)], ['10', '000000005005', first.get(38)], 'the duplicate gets what was approved');
  tt.equal(h.salesSeen(s.get(37) as string).length, 1, 'and is never forwarded twice');
  const ledger = h.issuer.ledger();
  tt.equal(ledger.holds.find((x) => x.rrn === s.get(37))?.amount, '000000005005', 'the issuer holds the part it approved');
});
