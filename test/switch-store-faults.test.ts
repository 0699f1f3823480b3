/**
 * Faults injected where the promise is at stake, on the real store (SQLite in a temporary
 * directory): the write-ahead (a sale whose journal row cannot be written never leaves
 * the switch) and the durable approval (an approval that cannot be journaled never
 * reaches the terminal; the sale is reversed instead). Each fails if the line that keeps
 * it is broken: sending before the journal write lands, or delivering an approval before
 * its record is durable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { getDialect } from '../codec/index.js';
import { loadDefaultRules } from '../rules/index.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { Switch } from '../switch/engine/switch.js';
import { createLogger } from '../switch/observe/log.js';
import { connectClient } from '../switch/sim/client.js';
import { startIssuer, type IssuerEvent } from '../switch/sim/issuer.js';
import { SqliteStore } from '../switch/store/index.js';
import { CardKeys } from '../switch/store/secrets.js';
import type { TxnRow, TxnUpdate } from '../switch/store/types.js';
import { sale } from './support/switch-harness.js';
import { until } from './support/until.js';

/** SQLite with writes that fail on demand. */
class FaultyStore extends SqliteStore {
  failInsert = false;
  failApproval = false;
  /** The insert commits, then its reply is lost: the switch sees a failure. */
  loseInsertReply = false;

  override async insertTxn(row: TxnRow): Promise<void> {
    if (this.failInsert) throw new Error('injected: disk full');
    await super.insertTxn(row);
    if (this.loseInsertReply) throw new Error('injected: connection lost before the reply');
  }

  override updateTxn(u: TxnUpdate): Promise<boolean> {
    return this.failApproval && u.state === 'approved' ? Promise.reject(new Error('injected: disk full')) : super.updateTxn(u);
  }
}

t.test('the write-ahead and the durable approval, with the journal failing', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-store-faults-'));
  const issuer = await startIssuer({ seed: 3, approveRate: 1 });
  const seen: IssuerEvent[] = [];
  issuer.onMessage((e) => seen.push(e));
  const store = new FaultyStore(`sqlite:${join(dir, 'journal.db')}`);
  await store.open();
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0 });
  cfg.tickMs = 5;
  cfg.reversal = { ...cfg.reversal, responseTimeoutMs: 500, backoffMs: [50] };
  cfg.upstreams = [{ ...UPSTREAM_DEFAULTS, name: 'issuer', host: '127.0.0.1', port: issuer.port, timeoutMs: 1000, reconnectBackoffMs: [50] }];
  const sw = new Switch(cfg, loadDefaultRules(), createLogger('silent'), (name) => getDialect(name), { store, keys: new CardKeys(Buffer.alloc(32, 5)) });
  await sw.start();
  const client = await connectClient({ port: sw.ports()[0] });
  tt.teardown(async () => {
    await client.close();
    await sw.stop(500);
    await store.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });
  tt.ok(await sw.waitUntilUp(10_000), 'the link is up');

  store.failInsert = true;
  const unjournaled = sale();
  tt.equal((await client.request(unjournaled, 5000)).get(39), '91', 'a sale whose journal row failed: 91');
  store.failInsert = false;
  const after = sale();
  tt.equal((await client.request(after, 5000)).get(39), '00', 'the next sale, journaled, is approved');
  tt.same(seen.filter((e) => e.msg.get(37) === unjournaled.get(37)).map((e) => e.msg.mti), [], 'the unjournaled sale never reached the issuer');

  // The insert landed but the switch was told it failed: not forwarded, and its row must
  // not stay `forwarded` (a sale in flight to recovery and the report) for good.
  store.loseInsertReply = true;
  const landed = sale();
  tt.equal((await client.request(landed, 5000)).get(39), '91', 'a sale whose journal write seemed to fail: 91');
  store.loseInsertReply = false;
  tt.same(seen.filter((e) => e.msg.get(37) === landed.get(37)).map((e) => e.msg.mti), [], 'never forwarded');
  await until(async () => (await store.unfinishedTxns()).length === 0, 'its row no longer in flight');
  const row = (await store.recentTxns(0)).find((r) => r.rrn === landed.get(37));
  tt.equal(row?.state, 'not_sent', 'its row says it was never sent');

  store.failApproval = true;
  const lost = sale();
  tt.equal((await client.request(lost, 5000)).get(39), '91', 'an approval the journal could not keep is not delivered');
  store.failApproval = false;
  await until(() => seen.some((e) => e.msg.mti === '0400' && e.msg.get(37) === lost.get(37)), 'the reversal of the undelivered approval at the issuer');
  await until(() => sw.reversals.outstanding === 0, 'the reversal acknowledged');
  tt.equal(issuer.ledger().holds.filter((h) => h.rrn === lost.get(37)).length, 0, 'its hold is released');
});
