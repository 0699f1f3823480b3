/**
 * Re-sealing (issue 16): rows written in the first sealed format (every field but track,
 * PIN and ICC data kept: a CVV2 in F48, PANs in free text) are rewritten through the
 * allow-list, on SQLite (and its files no longer hold what was removed) and PostgreSQL;
 * and a rotated PAN key takes over across restarts: old rows open, the pass moves them to
 * the new key, and a repeat of a sale from before the rotation is still answered from the
 * journal after the next restart.
 */
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { getDialect, IsoMessage } from '../codec/index.js';
import { startSwitch } from '../switch/cli/start-command.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { Resealer } from '../switch/engine/resealer.js';
import { Counters } from '../switch/observe/counters.js';
import { createLogger } from '../switch/observe/log.js';
import { openStore, type Store } from '../switch/store/index.js';
import { isCurrentSealed, sealBinding, unsealMessage } from '../switch/store/sealed.js';
import { addSealKey, CardKeys, readKeyFile } from '../switch/store/secrets.js';
import { startIssuer } from '../switch/sim/issuer.js';
import { connectClient } from '../switch/sim/client.js';
import { PgSchemas, pgReady } from './support/pg.js';
import { reversalRow, txnRow } from './support/store-contract.js';
import { sale } from './support/switch-harness.js';

const D = getDialect('iso87a');
const ROOT = Buffer.alloc(32, 3);
const PAN = '4761739001010119';
const CVV_TEXT = 'CVV2=123 ALT PAN 5555555555554444';

/** The first format, as switches before issue 16 wrote it: all but 35/36/45/52/55, the PAN under k0 without AAD. */
function firstFormat(msg: IsoMessage): string {
  const json: Record<string, string> = { ...msg.toJSON() };
  for (const n of ['35', '36', '45', '52', '55']) delete json[n];
  const key = Buffer.from(hkdfSync('sha256', ROOT, Buffer.alloc(0), 'revswitch pan seal v1', 32));
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(json['2'], 'utf8'), c.final()]);
  delete json['2'];
  json.pan = `${iv.toString('base64url')}.${c.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
  return JSON.stringify(json);
}

function noisy(stan: string): IsoMessage {
  return new IsoMessage('0200').set(2, PAN).set(3, '000000').set(4, '000000001000').set(7, '1204101010').set(11, stan)
    .set(22, '051').set(32, '123456').set(37, `RRN${stan}000`).set(41, 'TERM0001').set(42, 'MERCHANT0000001')
    .set(48, CVV_TEXT).set(49, '840').set(62, '4111 1111 1111 1111');
}

const N = 450;

async function migrate(tt: Test, store: Store, afterPass?: () => Promise<string>): Promise<void> {
  await store.open();
  const keys = new CardKeys(ROOT);
  for (let i = 1; i <= N; i++) {
    const id = `t${String(i).padStart(4, '0')}`;
    void store.insertTxn(txnRow(id, { sealed: firstFormat(noisy(String(i).padStart(6, '0'))), upstream: 'issuer', dupKey: null }));
    if (i % 3 === 0) {
      const m = noisy(String(i).padStart(6, '0'));
      void store.insertReversal(reversalRow(`r${id}`, { txnId: id, original: firstFormat(m), message: i % 2 === 0 ? firstFormat(m) : null }));
    }
  }
  await store.flush();
  const counters = new Counters();
  const resealer = new Resealer(store, keys, (u) => (u === 'issuer' ? D : undefined), createLogger('silent'), counters, { pageRows: 100, pauseMs: 0 });
  const dry = await resealer.pass(true);
  tt.equal(dry.resealed, N + N / 3 + N / 6, `a dry run finds ${dry.resealed} first-format values (txns, originals, messages)`);
  tt.ok((await store.txn('t0001'))?.sealed?.includes('CVV2'), 'and changes nothing');
  const s = await resealer.pass();
  tt.equal(s.resealed, dry.resealed, `${s.resealed} re-sealed`);
  tt.same([s.failed, s.raced], [0, 0]);
  tt.same(s.byKey, { k0: s.scanned }, 'all under k0 in the current format');
  const again = await resealer.pass();
  tt.same([again.resealed, again.current], [0, s.scanned], 'a second pass finds nothing to do');
  const row = await store.txn('t0003');
  tt.ok(row?.sealed && isCurrentSealed(row.sealed, keys), 'the row is current');
  const opened = unsealMessage(D, row?.sealed ?? '', keys, 't0003');
  tt.equal(opened.get(2), PAN, 'and opens to the same PAN');
  tt.same([opened.has(48), opened.has(62)], [false, false], 'F48 (with its CVV2) and F62 are gone');
  tt.equal(opened.get(37), 'RRN000003000', 'what a reversal needs is kept');
  const rev = await store.reversal('rt0006');
  for (const v of [rev?.original, rev?.message]) {
    tt.ok(v && isCurrentSealed(v, keys) && unsealMessage(D, v, keys, sealBinding({ id: 'rt0006', txnId: 't0006' })).get(2) === PAN, 'the reversal\'s original and message too');
  }
  // A value changed between read and write is left to the switch (compare-and-set).
  const page = await store.sealedPage('txns', '', 1);
  tt.notOk(await store.reseal({ ...page[0], value: 'stale' }, 'x'), 'a stale value is not overwritten');
  if (afterPass) tt.same(await afterPass(), '', 'the old contents are gone from the files');
  await store.close();
}

t.test('SQLite: first-format rows are rewritten through the allow-list, and the files forget what was removed', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-reseal-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'r.db');
  await migrate(tt, openStore(`sqlite:${db}`), async () => {
    const found: string[] = [];
    for (const s of ['', '-wal']) {
      if (!existsSync(db + s)) continue;
      const text = readFileSync(db + s).toString('latin1');
      if (text.includes('CVV2=')) found.push(`r.db${s}: CVV2`);
      if (text.includes('5555555555554444')) found.push(`r.db${s}: a PAN from F48`);
      if (text.includes('4111 1111 1111 1111')) found.push(`r.db${s}: a PAN from F62`);
    }
    return found.join('; ');
  });
});

t.test('memory store: the same pass', async (tt) => {
  await migrate(tt, openStore('memory:'));
});

if (await pgReady(t, 'PostgreSQL: the same pass')) {
  const schemas = new PgSchemas();
  t.teardown(() => schemas.dropAll());
  t.test('PostgreSQL: first-format rows are rewritten through the allow-list', async (tt) => {
    await migrate(tt, openStore(schemas.url(schemas.next())));
  });
}

t.test('a rotated key takes over across restarts; sales from before it are still answered from the journal', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-rotate-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const issuer = await startIssuer({ seed: 3, approveRate: 1, latencyMs: 2 });
  tt.teardown(() => issuer.close());
  let forwarded = 0;
  issuer.onMessage(() => { forwarded++; });
  const start = async () => {
    const cfg = defaultConfig();
    Object.assign(cfg.listeners[0], { port: 0 });
    cfg.store = `sqlite:${join(dir, 'rot.db')}`;
    cfg.admin = 'off';
    cfg.tickMs = 5;
    cfg.upstreams = [{ ...UPSTREAM_DEFAULTS, name: 'issuer', host: '127.0.0.1', port: issuer.port, timeoutMs: 2000, reconnectBackoffMs: [50] }];
    const running = await startSwitch(cfg, createLogger('silent'));
    tt.ok(await running.sw.waitUntilUp(10_000), 'up');
    const client = await connectClient({ port: running.sw.ports()[0] });
    return { running, client };
  };
  const keyFile = join(dir, 'revswitch.key');

  // Before the rotation: sales sealed under k0.
  let { running, client } = await start();
  const before = Array.from({ length: 5 }, (_, i) => sale({ terminal: 'TERMROT1', amount: String(1000 + i) }));
  for (const m of before) tt.equal((await client.request(m)).get(39), '00');
  await client.close();
  await running.stop();
  tt.same(readKeyFile(keyFile).sealKeys, [], 'the key file holds the root only');

  const added = addSealKey(keyFile);
  tt.equal(added.id, 'k1');
  tt.match(added.checkValue, /^[0-9A-F]{6}$/);
  tt.equal(readKeyFile(keyFile).sealKeys.length, 1, 'k1 added to the key file');

  // After it: new sales under k1; the pass moves the old ones.
  ({ running, client } = await start());
  const seen = forwarded;
  tt.equal((await client.request(before[0])).get(39), '00', 'a repeat of a sale from before the rotation is answered from the journal');
  tt.equal(forwarded, seen, 'and not forwarded again');
  const after = sale({ terminal: 'TERMROT1', amount: '2000' });
  tt.equal((await client.request(after)).get(39), '00');
  await running.store.flush();
  const pass = await running.sw.resealer.pass();
  tt.equal(pass.resealed, before.length, `${pass.resealed} old rows re-sealed under k1`);
  tt.same(pass.byKey, { k1: before.length + 1 }, 'every sealed row under k1 now');
  await client.close();
  await running.stop();

  // A restart with only the new rows' key in use: the old sales still repeat from the journal.
  ({ running, client } = await start());
  const seen2 = forwarded;
  for (const m of [before[1], after]) tt.equal((await client.request(m)).get(39), '00', `repeat of ${m.get(11)} answered`);
  tt.equal(forwarded, seen2, 'from the journal: nothing forwarded');
  const rows = await running.store.recentTxns(0);
  const keys = new CardKeys(Buffer.from(readFileSync(keyFile, 'utf8').split('\n')[0], 'hex'), readKeyFile(keyFile).sealKeys);
  tt.ok(rows.filter((r) => r.sealed !== null).every((r) => CardKeys.keyIdOf(JSON.parse(r.sealed as string).pan as string) === 'k1'), 'every PAN sealed under k1');
  tt.ok(rows.filter((r) => r.sealed !== null).every((r) => unsealMessage(D, r.sealed as string, keys, r.id).get(2)?.length), 'and each opens');
  await client.close();
  await running.stop();
});
