/**
 * The switch's key store beside a `revswitch keys` command: keys another process writes
 * are seen after a reload (SIGHUP), and a sign-on that finds the file changed under it
 * reloads and replaces the keys rather than failing or dropping the other's keys.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore } from '../switch/edge/key-store.js';
import { keyCheckValue } from '../switch/edge/mac.js';
import { createMasterKeyFile, masterKeyFrom } from '../switch/edge/master-key.js';
import { Security } from '../switch/edge/security.js';
import { SoftwareSecurityModule } from '../switch/edge/security-module.js';

const TMK1 = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');
const TMK2 = Buffer.from('2315208C9110AD402315208C9110AD40', 'hex');

t.test('keys written by another process: seen after a reload, never lost by a sign-on', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-keys-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys.json');
  const masterFile = join(dir, 'master.key');
  createMasterKeyFile(masterFile);
  const master = masterKeyFrom({ env: {}, file: masterFile });
  const mine = KeyStore.load(file, master, new SoftwareSecurityModule());
  mine.importClear('T1.TMK', 'TMK', TMK1, keyCheckValue(TMK1), { terminal: 'T1' });
  const module = new SoftwareSecurityModule();
  const store = KeyStore.load(file, master, module);
  const sec = new Security(module, store, 60_000);
  tt.ok(sec.hasTmk('T1'), 'the switch sees T1\'s TMK');

  // A `keys import` in another process.
  const cli = KeyStore.load(file, master, new SoftwareSecurityModule());
  cli.importClear('T2.TMK', 'TMK', TMK2, keyCheckValue(TMK2), { terminal: 'T2' });
  tt.notOk(sec.hasTmk('T2'), 'not seen before a reload');

  // A sign-on now finds the file changed: it reloads, then writes, keeping T2's TMK.
  const k = sec.signOnKeys('T1');
  tt.equal(k.f62.length, 40, 'keys delivered despite the other writer');
  tt.ok(sec.hasTmk('T2'), 'the other process\'s key was read in, not overwritten');
  const after = KeyStore.load(file, master, new SoftwareSecurityModule());
  tt.ok(after.find({ terminal: 'T2' }, ['TMK']), 'and it is still in the file');
  tt.ok(after.find({ terminal: 'T1' }, ['MAK']), 'beside the new working keys');

  // SIGHUP's reload: keys removed by another process are forgotten by the module too.
  const cli2 = KeyStore.load(file, master, new SoftwareSecurityModule());
  cli2.rotate(after.find({ terminal: 'T1' }, ['MAK'])?.id ?? '');
  sec.reloadKeys();
  tt.equal(store.find({ terminal: 'T1' }, ['MAK'])?.id, cli2.find({ terminal: 'T1' }, ['MAK'])?.id, 'the rotated MAK is the active one after the reload');
});
