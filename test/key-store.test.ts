/**
 * The key store (edge/key-store.ts) and its master key (edge/master-key.ts): keys survive
 * a reload into a fresh module (known-answer MACs prove the values), check values are
 * enforced, an entry changed in the file or opened under another master key is refused by
 * id, working keys are replaced with one previous kept until pruned, and no clear key
 * ever reaches the file or an error.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { KeyStore, KeyStoreError, type KeyEntryInfo } from '../switch/edge/key-store.js';
import { keyCheckValue } from '../switch/edge/mac.js';
import { createMasterKeyFile, masterKeyFrom } from '../switch/edge/master-key.js';
import { SoftwareSecurityModule } from '../switch/edge/security-module.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const JPOS = '0123456789ABCDEFFEDCBA9876543210';
const X919 = '7CA110454A1A6E570131D9619DC1376E';
const CUP = '2222222222222222';
const HELLO = Buffer.from('Hello World !!!!', 'latin1');
const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

function scratch(tt: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-keystore-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A key encrypted under a double-length KEK, ECB, as a terminal or network sends it. */
function underKek(kek: Buffer, key: Buffer): Buffer {
  const c = createCipheriv('des-ede', kek, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(key), c.final()]);
}

/** A key's clear value, got out of the module the only way it allows: under a KEK we know. */
function clearOf(module: SoftwareSecurityModule, id: string): Buffer {
  const probe = randomBytes(16);
  module.loadClearKey('test.probe', 'ZMK', probe);
  const { cryptogram } = module.exportKey(id, 'test.probe');
  module.forget('test.probe');
  const d = createDecipheriv('des-ede', probe, null);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(cryptogram), d.final()]);
}

function refusal(f: () => unknown): KeyStoreError {
  try {
    f();
  } catch (e) {
    if (e instanceof KeyStoreError) return e;
    throw e;
  }
  throw new Error('expected a KeyStoreError');
}

function fileText(path: string): { format: string; keys: (KeyEntryInfo & { value: string })[] } {
  return JSON.parse(readFileSync(path, 'utf8')) as { format: string; keys: (KeyEntryInfo & { value: string })[] };
}

function containsKey(text: string, key: Buffer): boolean {
  const h = key.toString('hex');
  return text.includes(h) || text.includes(h.toUpperCase()) || text.includes(key.toString('base64'));
}

t.test('round trip: keys saved, loaded into a fresh module, MAC as before; file 0600 and free of clear keys', async (tt) => {
  const dir = scratch(tt);
  const old = process.umask(0o022);
  tt.teardown(() => { process.umask(old); });
  const path = join(dir, 'sub', 'keys.json');
  const master = randomBytes(32);
  const m1 = new SoftwareSecurityModule();
  const s1 = KeyStore.load(path, master, m1);
  tt.same(s1.list(), [], 'an absent file is an empty store');
  const tmk = s1.importClear('T0000001.TMK', 'TMK', hex(JPOS), '08d7b4', { terminal: 'T0000001' });
  tt.same([tmk.kcv, tmk.length, tmk.state, tmk.retired], ['08D7B4', 16, 'active', null], 'the jPOS KCV vector, given in lower case');
  s1.importClear('T0000002.MAK', 'MAK', hex(X919), keyCheckValue(hex(X919)), { terminal: 'T0000002' });
  s1.importClear('CUP.MAK', 'MAK', hex(CUP), keyCheckValue(hex(CUP)), { upstream: 'cup' });
  const gen = s1.replace({ merchant: 'M1' }, 'TAK', 16);
  tt.equal(gen.id, 'M1.TAK.1');
  const genMac = m1.mac('x9.19', gen.id, HELLO);
  tt.equal(mode(path), '600', 'the key store is owner-only');

  const m2 = new SoftwareSecurityModule();
  const s2 = KeyStore.load(path, master, m2);
  tt.same(s2.list(), s1.list(), 'the same entries');
  tt.equal(m2.mac('x9.19', 'T0000002.MAK', HELLO).toString('hex').toUpperCase(), 'F09B856213BAB83B', 'X9.19 known answer after reload');
  tt.equal(m2.mac('cup-ecb', 'CUP.MAK', hex('1234567890ABCDEFABCDEF1234567890')).toString('latin1'), 'E267B6E2', 'UnionPay MAC known answer after reload');
  tt.same(m2.mac('x9.19', gen.id, HELLO), genMac, 'a generated key MACs as before');
  tt.equal(m2.info('T0000001.TMK').kcv, '08D7B4');
  tt.same(s2.find({ terminal: 'T0000002' }, ['MAK', 'TAK']), s1.get('T0000002.MAK'), 'find by owner and types');
  tt.equal(s2.find({ terminal: 'T0000002' }, ['PIK']), undefined);

  const raw = readFileSync(path, 'utf8');
  tt.equal(fileText(path).format, 'revswitch-keys/1');
  for (const k of [hex(JPOS), hex(X919), hex(CUP), clearOf(m2, gen.id)]) tt.notOk(containsKey(raw, k), `no clear key in the file (KCV ${keyCheckValue(k)})`);
  tt.equal(mode(path), '600');
});

t.test('check values: a wrong one refused naming both KCVs and never the key; ids unique', async (tt) => {
  const path = join(scratch(tt), 'keys.json');
  const m = new SoftwareSecurityModule();
  const s = KeyStore.load(path, randomBytes(32), m);
  const e = refusal(() => s.importClear('T1.TMK', 'TMK', hex(JPOS), '08D7B5', { terminal: 'T1' }));
  tt.match(e.message, /T1\.TMK/);
  tt.match(e.message, /08D7B4/, 'the KCV computed');
  tt.match(e.message, /08D7B5/, 'the KCV given');
  tt.notOk(e.message.toUpperCase().includes(JPOS), 'never the key');
  tt.equal(s.get('T1.TMK'), undefined, 'nothing stored');
  tt.notOk(m.has('T1.TMK'), 'nothing in the module');
  tt.match(s.importClear('T1.TMK', 'TMK', hex(JPOS), '08D7B4C0FFEE', { terminal: 'T1' }).kcv, '08D7B4', 'the first 6 hex digits of a longer KCV');
  tt.match(refusal(() => s.importClear('T1.TMK', 'TMK', hex(X919), keyCheckValue(hex(X919)), { terminal: 'T2' })).message, /T1\.TMK is already in the store/);
  tt.match(refusal(() => s.importClear('x', 'TMK', hex(X919), keyCheckValue(hex(X919)), { terminal: 'T2', merchant: 'M' })).message, /exactly one of terminal, merchant or upstream/);
});

t.test('an entry changed in the file, or the wrong master key, is refused by id', async (tt) => {
  const dir = scratch(tt);
  const path = join(dir, 'keys.json');
  const master = randomBytes(32);
  const s = KeyStore.load(path, master, new SoftwareSecurityModule());
  s.importClear('T1.TMK', 'TMK', hex(JPOS), '08D7B4', { terminal: 'T1' });
  s.replace({ terminal: 'T1' }, 'MAK', 16);
  const good = readFileSync(path, 'utf8');
  const tamper = (name: string, change: (k: KeyEntryInfo & { value: string }) => void, id: string): void => {
    const f = fileText(path);
    change(f.keys[1]);
    writeFileSync(path, JSON.stringify(f), { mode: 0o600 });
    const m = new SoftwareSecurityModule();
    const e = refusal(() => KeyStore.load(path, master, m));
    tt.match(e.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: keys\\[1\\] \\(${id.replace('.', '\\.')}`), `${name}: names the file and the id`);
    tt.notOk(m.has('T1.TMK'), `${name}: nothing loaded`);
    writeFileSync(path, good, { mode: 0o600 });
  };
  tamper('a flipped byte', (k) => {
    const b = Buffer.from(k.value, 'base64');
    b[b.length - 1] ^= 0x01;
    k.value = b.toString('base64');
  }, 'T1.MAK.1');
  tamper('a changed type', (k) => { k.type = 'TAK'; }, 'T1.MAK.1');
  tamper('a changed kcv', (k) => { k.kcv = '000000'; }, 'T1.MAK.1');
  tamper('another owner', (k) => { k.owner = { terminal: 'T2' }; }, 'T1.MAK.1');
  tamper('a moved value', (k) => { k.id = 'T2.MAK.1'; }, 'T2.MAK.1');

  const e = refusal(() => KeyStore.load(path, randomBytes(32), new SoftwareSecurityModule()));
  tt.match(e.message, /keys\[0\] \(T1\.TMK, KCV 08D7B4\): its value does not decrypt under this master key/, 'the wrong master key');

  const f = fileText(path);
  (f.keys[0] as { kcv: string }).kcv = 'xyz';
  writeFileSync(path, JSON.stringify(f), { mode: 0o600 });
  tt.match(refusal(() => KeyStore.load(path, master, new SoftwareSecurityModule())).message, /keys\.json: keys\[0\]\.kcv: expected 6 upper-case hex digits/, 'a bad field: its JSON path');
  writeFileSync(path, '{"format": "revswitch-keys/1", "keys": [', { mode: 0o600 });
  tt.match(refusal(() => KeyStore.load(path, master, new SoftwareSecurityModule())).message, /not valid JSON: line 1/);
  writeFileSync(path, good, { mode: 0o644 });
  chmodSync(path, 0o644);
  tt.match(refusal(() => KeyStore.load(path, master, new SoftwareSecurityModule())).message, /open to group or others \(mode 0644\): chmod 600/);
});

t.test('replace keeps exactly one previous, with unique ids; prune drops it after the overlap', async (tt) => {
  const path = join(scratch(tt), 'keys.json');
  const master = randomBytes(32);
  const m = new SoftwareSecurityModule();
  const s = KeyStore.load(path, master, m);
  const owner = { terminal: 'T1' };
  const ids = [1, 2, 3, 4].map(() => s.replace(owner, 'MAK', 16).id);
  s.replace(owner, 'PIK', 16);
  tt.same(ids, ['T1.MAK.1', 'T1.MAK.2', 'T1.MAK.3', 'T1.MAK.4']);
  const macs = s.list().filter((k) => k.type === 'MAK');
  tt.same(macs.map((k) => [k.id, k.state]), [['T1.MAK.3', 'previous'], ['T1.MAK.4', 'active']], 'one active, one previous');
  tt.equal(new Set(s.list().map((k) => k.id)).size, s.list().length, 'ids unique');
  tt.notOk(m.has('T1.MAK.1') || m.has('T1.MAK.2'), 'older keys forgotten by the module');
  tt.ok(m.has('T1.MAK.3') && m.has('T1.MAK.4'));
  tt.equal(s.find(owner, ['MAK'])?.id, 'T1.MAK.4');
  const prev = s.previous(owner, ['MAK', 'TAK']);
  tt.equal(prev?.id, 'T1.MAK.3');
  tt.ok(prev?.retired !== null && Date.parse(prev?.retired ?? '') <= Date.now());
  tt.same(KeyStore.load(path, master, new SoftwareSecurityModule()).list(), s.list(), 'saved as it is');

  const rotated = s.rotate('T1.MAK.4');
  tt.equal(rotated.id, 'T1.MAK.5');
  tt.match(refusal(() => s.rotate('T1.MAK.4')).message, /T1\.MAK\.4 \(KCV [0-9A-F]{6}\) is a previous key: rotate the active one, T1\.MAK\.5/);

  const retired = Date.parse(s.previous(owner, ['MAK'])?.retired ?? '');
  tt.equal(s.prune(retired + 60_000, 60_000), 0, 'kept through the overlap');
  tt.equal(s.prune(retired + 60_001, 60_000), 1, 'dropped after it');
  tt.equal(s.previous(owner, ['MAK']), undefined);
  tt.notOk(m.has('T1.MAK.4'));
  tt.same(KeyStore.load(path, master, new SoftwareSecurityModule()).list().map((k) => k.id), ['T1.PIK.1', 'T1.MAK.5']);
});

t.test('importUnder: a key given under a TMK of the store, its KCV checked', async (tt) => {
  const path = join(scratch(tt), 'keys.json');
  const master = randomBytes(32);
  const m = new SoftwareSecurityModule();
  const s = KeyStore.load(path, master, m);
  s.importClear('T1.TMK', 'TMK', hex(JPOS), '08D7B4', { terminal: 'T1' });
  const pik = hex(X919);
  const crypt = underKek(hex(JPOS), pik);
  const e = refusal(() => s.importUnder('T1.PIK', 'PIK', crypt, 'T1.TMK', '000000', { terminal: 'T1' }));
  tt.match(e.message, new RegExp(`T1\\.PIK: its check value is ${keyCheckValue(pik)}, not 000000.*T1\\.TMK KCV 08D7B4`));
  tt.notOk(containsKey(e.message, pik) || containsKey(e.message, crypt), 'neither the key nor its cryptogram in the error');
  tt.notOk(m.has('T1.PIK'));
  tt.match(refusal(() => s.importUnder('T1.PIK', 'PIK', crypt, 'nope', keyCheckValue(pik), { terminal: 'T1' })).message, /no key-encrypting key "nope"/);
  const k = s.importUnder('T1.PIK', 'PIK', crypt, 'T1.TMK', keyCheckValue(pik), { terminal: 'T1' });
  tt.same([k.id, k.kcv, k.length], ['T1.PIK', keyCheckValue(pik), 16]);
  const m2 = new SoftwareSecurityModule();
  KeyStore.load(path, master, m2);
  tt.same(m2.exportKey('T1.PIK', 'T1.TMK').cryptogram, crypt, 'reloaded, it is the same key');
  tt.notOk(containsKey(readFileSync(path, 'utf8'), pik));
  tt.notOk(readFileSync(path, 'utf8').toUpperCase().includes(crypt.toString('hex').toUpperCase()), 'nor its cryptogram');
});

t.test('a second writer is refused, and its change undone in memory', async (tt) => {
  const path = join(scratch(tt), 'keys.json');
  const master = randomBytes(32);
  const a = KeyStore.load(path, master, new SoftwareSecurityModule());
  const mb = new SoftwareSecurityModule();
  const b = KeyStore.load(path, master, mb);
  a.replace({ upstream: 'visa' }, 'ZAK', 16);
  tt.match(refusal(() => b.importClear('T1.TMK', 'TMK', hex(JPOS), '08D7B4', { terminal: 'T1' })).message, /changed by another process since it was read/);
  tt.equal(b.get('T1.TMK'), undefined);
  tt.notOk(mb.has('T1.TMK'));
  tt.same(KeyStore.load(path, master, new SoftwareSecurityModule()).list().map((k) => k.id), ['visa.ZAK.1'], 'a\'s key kept');
});

t.test('the master key: from the environment, else a 0600 file', async (tt) => {
  const dir = scratch(tt);
  const file = join(dir, 'm', 'master.key');
  createMasterKeyFile(file);
  tt.equal(mode(file), '600');
  tt.match(readFileSync(file, 'utf8'), /^[0-9a-f]{64}\n$/);
  tt.throws(() => createMasterKeyFile(file), /EEXIST/, 'never over an existing file');
  const key = masterKeyFrom({ env: {}, file });
  tt.equal(key.length, 32);
  const envKey = randomBytes(32);
  tt.same(masterKeyFrom({ env: { REVSWITCH_MASTER_KEY: envKey.toString('hex') }, file }), envKey, 'the environment first');
  chmodSync(file, 0o644);
  tt.throws(() => masterKeyFrom({ env: {}, file }), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*mode 0644.*chmod 600`), 'readable by others: refused');
  chmodSync(file, 0o600);
  tt.throws(() => masterKeyFrom({ env: {}, file: null }), /needs a master key: set REVSWITCH_MASTER_KEY or security\.masterKeyFile/);
  tt.throws(() => masterKeyFrom({ env: {}, file: join(dir, 'none') }), /no such master key file/);
  writeFileSync(join(dir, 'short'), 'abcdef', { mode: 0o600 });
  const e = (() => { try { masterKeyFrom({ env: {}, file: join(dir, 'short') }); } catch (x) { return (x as Error).message; } return ''; })();
  tt.match(e, /short: expected 32 random bytes/);
  tt.notOk(e.includes('abcdef'), 'never the text');
  tt.throws(() => KeyStore.load(join(dir, 'k.json'), Buffer.alloc(16), new SoftwareSecurityModule()), /master key must be 32 bytes/);
});
