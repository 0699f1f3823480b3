/**
 * `revswitch keys` and `revswitch maintenance` on a SQLite store: status, rotation and a
 * re-sealing pass; a dry run that changes nothing, a run that does, and the signed
 * summaries listed with their signatures checked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { getDialect, IsoMessage } from '../codec/index.js';
import { keysCommand } from '../switch/cli/keys-command.js';
import { maintenanceCommand } from '../switch/cli/maintenance-command.js';
import { keyFileOf, loadCardKeys } from '../switch/cli/card-keys.js';
import { openStore } from '../switch/store/index.js';
import { sealMessage } from '../switch/store/sealed.js';
import { txnRow } from './support/store-contract.js';

const DAY = 86_400_000;

t.test('keys status, rotate-pan, reseal; maintenance --dry-run, run, --summaries', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-cli-keys-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'k.db')}`;
  const { keys } = loadCardKeys({ configured: null, keyFile: keyFileOf(url), env: {} });
  const store = openStore(url);
  await store.open();
  const sale = new IsoMessage('0200').set(2, '4761739001010119').set(3, '000000').set(4, '000000001000').set(11, '000001');
  const old = Date.now() - 30 * DAY;
  for (const [id, createdAt] of [['old-1', old], ['old-2', old], ['new-1', Date.now()]] as const) {
    void store.insertTxn(txnRow(id, { state: 'approved', upstream: 'demo-issuer', sealed: sealMessage(getDialect('iso87a'), sale, keys, id), createdAt, updatedAt: createdAt }));
  }
  await store.close();

  const status = JSON.parse(await keysCommand(['status', '--store', url, '--json'])) as { currentKey: string; byKey: Record<string, number>; resealed: number };
  tt.same([status.currentKey, status.byKey, status.resealed], ['k0', { k0: 3 }, 0], 'status: three values under k0, nothing to re-seal');
  tt.match(await keysCommand(['rotate-pan', '--store', url]), /added sealing key k1 \(check value [0-9A-F]{6}\)/);
  tt.match(await keysCommand(['status', '--store', url]), /sealing key: k1[\s\S]*k0: 3[\s\S]*to re-seal: 3/, 'after rotation: three to re-seal');
  tt.match(await keysCommand(['reseal', '--store', url]), /re-sealed: 3/);
  tt.match(await keysCommand(['status', '--store', url]), /k1: 3 \(current\)[\s\S]*to re-seal: 0/);

  const dry = await maintenanceCommand(['--dry-run', '--store', url]);
  tt.match(dry, /2 in transactions, 0 in reversals and refunds would be erased/, 'dry run: two done transactions older than 7 days');
  tt.match(await maintenanceCommand(['--dry-run', '--store', url]), /would be erased/, 'and it changed nothing');
  const run = JSON.parse(await maintenanceCommand(['--store', url, '--json'])) as { erased: number };
  tt.equal(run.erased, 2, 'the run erases them');
  tt.match(await maintenanceCommand(['--dry-run', '--store', url]), /0 in transactions/, 'nothing left to erase');
  tt.match(await maintenanceCommand(['--summaries', '--store', url]), /no maintenance run has deleted anything/);
});
