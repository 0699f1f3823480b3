/**
 * `revswitch keys init | import | list | rotate` from the shell, on a key store in a
 * scratch directory: the key read from stdin, a wrong check value refused with exit 1
 * naming the KCVs, the list as text and JSON, a rotation keeping the old key as
 * previous, and no clear key on stdout or stderr of any of them.
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { KeyStore, type KeyEntryInfo } from '../switch/edge/key-store.js';
import { keyCheckValue } from '../switch/edge/mac.js';
import { masterKeyFrom } from '../switch/edge/master-key.js';
import { SoftwareSecurityModule } from '../switch/edge/security-module.js';
import { nodeArgsFor, ROOT } from './support/built.js';

const CLI = nodeArgsFor('switch/cli/main', ['codec', 'rules', 'switch']);
const TMK = '0123456789ABCDEFFEDCBA9876543210';
const PIK = '7CA110454A1A6E570131D9619DC1376E';

interface Run { status: number | null; stdout: string; stderr: string }

/** Every output seen, to search for clear keys at the end. */
const seen: string[] = [];

function cli(args: string[], input = ''): Run {
  const env = { ...process.env };
  delete env.REVSWITCH_MASTER_KEY;
  const r = spawnSync(process.execPath, [...CLI, 'keys', ...args], { cwd: ROOT, input, env, encoding: 'utf8' });
  if (r.error) throw r.error;
  seen.push(r.stdout, r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function underKek(kek: string, key: string): string {
  const c = createCipheriv('des-ede', Buffer.from(kek, 'hex'), null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.from(key, 'hex')), c.final()]).toString('hex').toUpperCase();
}

t.test('keys init, import, list, rotate', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-keys-cli-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ks = join(dir, 'keys.json');
  const mk = join(dir, 'master.key');
  const where = ['--key-store', ks, '--master-key-file', mk];

  const init = cli(['init', ...where]);
  tt.equal(init.status, 0, init.stderr);
  tt.match(init.stdout, `created master key file ${mk} (mode 0600)`);
  tt.match(init.stdout, `created key store ${ks} (empty, mode 0600)`);
  tt.equal(statSync(mk).mode & 0o777, 0o600);
  tt.equal(statSync(ks).mode & 0o777, 0o600);
  const again = cli(['init', ...where]);
  tt.equal(again.status, 0, again.stderr);
  tt.match(again.stdout, /master key file exists, kept[\s\S]*key store exists \(0 keys\), kept/, 'init twice changes nothing');

  const owner = ['--owner', 'terminal:T0000001'];
  const wrong = cli(['import', '--id', 'T0000001.TMK', '--type', 'TMK', '--kcv', '123456', ...owner, ...where], `${TMK}\n`);
  tt.equal(wrong.status, 1, 'a wrong KCV: exit 1');
  tt.match(wrong.stderr, /T0000001\.TMK: its check value is 08D7B4, not 123456: refused/, 'naming both KCVs');
  const imported = cli(['import', '--id', 'T0000001.TMK', '--type', 'TMK', '--kcv', '08d7b4', ...owner, ...where], `${TMK.slice(0, 16)} ${TMK.slice(16)}\n`);
  tt.equal(imported.status, 0, imported.stderr);
  tt.equal(imported.stdout, 'imported T0000001.TMK (TMK, KCV 08D7B4)\n');

  const crypt = underKek(TMK, PIK);
  const pikKcv = keyCheckValue(Buffer.from(PIK, 'hex'));
  const badUnder = cli(['import', '--id', 'T0000001.PIK', '--type', 'PIK', '--kcv', '000000', '--under', 'T0000001.TMK', ...owner, ...where], crypt);
  tt.equal(badUnder.status, 1);
  tt.match(badUnder.stderr, new RegExp(`its check value is ${pikKcv}, not 000000`));
  const under = cli(['import', '--id', 'T0000001.PIK', '--type', 'pik', '--kcv', pikKcv, '--under', 'T0000001.TMK', ...owner, ...where], crypt);
  tt.equal(under.status, 0, under.stderr);
  tt.equal(under.stdout, `imported T0000001.PIK (PIK, KCV ${pikKcv})\n`);

  const onArgv = cli(['import', '--id', 'X', '--type', 'TMK', '--kcv', '08D7B4', ...owner, ...where, TMK]);
  tt.equal(onArgv.status, 2, 'a key on the command line: a usage error');
  tt.match(onArgv.stderr, /unexpected argument \(a key is read from stdin/);
  const notHex = cli(['import', '--id', 'X', '--type', 'TMK', '--kcv', '08D7B4', ...owner, ...where], 'not a key at all\n');
  tt.equal(notHex.status, 1);
  tt.match(notHex.stderr, /stdin: expected the key as 16, 32 or 48 hex digits, got 12 characters, not all hex/);
  tt.equal(cli(['import', '--id', 'X', '--type', 'QQQ', '--kcv', '08D7B4', ...owner, ...where], TMK).status, 2, 'an unknown type');
  tt.equal(cli(['import', '--id', 'X', '--type', 'TMK', '--kcv', '08D7B4', '--owner', 'T1', ...where], TMK).status, 2, 'an owner without its kind');

  const rotated = cli(['rotate', '--id', 'T0000001.PIK', ...where]);
  tt.equal(rotated.status, 0, rotated.stderr);
  tt.match(rotated.stdout, /^rotated T0000001\.PIK: new key T0000001\.PIK\.1 \(PIK, KCV [0-9A-F]{6}\); T0000001\.PIK kept as previous\n$/);
  tt.equal(cli(['rotate', '--id', 'nope', ...where]).status, 1);

  const list = cli(['list', ...where]);
  tt.equal(list.status, 0, list.stderr);
  const lines = list.stdout.trimEnd().split('\n');
  tt.match(lines[0], /^ID\s+TYPE\s+OWNER\s+STATE\s+KCV\s+CREATED\s+RETIRED$/);
  tt.equal(lines.length, 4, 'a header and three keys');
  tt.match(lines[1], /^T0000001\.TMK\s+TMK\s+terminal:T0000001\s+active\s+08D7B4\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+-$/);
  tt.match(lines[2], new RegExp(`^T0000001\\.PIK\\s+PIK\\s+terminal:T0000001\\s+previous\\s+${pikKcv}\\s+\\S+Z\\s+\\S+Z$`));
  tt.match(lines[3], /^T0000001\.PIK\.1\s+PIK\s+terminal:T0000001\s+active\s+[0-9A-F]{6}\s/);
  const at = lines[0].indexOf('KCV');
  tt.ok(lines.slice(1).every((l) => /^[0-9A-F]{6} /.test(l.slice(at))), 'aligned columns: every KCV under its header');

  const json = cli(['list', '--json', ...where]);
  tt.equal(json.status, 0, json.stderr);
  const keys = JSON.parse(json.stdout) as (KeyEntryInfo & { value?: string })[];
  tt.same(keys.map((k) => [k.id, k.type, k.state, k.owner]), [
    ['T0000001.TMK', 'TMK', 'active', { terminal: 'T0000001' }],
    ['T0000001.PIK', 'PIK', 'previous', { terminal: 'T0000001' }],
    ['T0000001.PIK.1', 'PIK', 'active', { terminal: 'T0000001' }],
  ]);
  tt.notOk(keys.some((k) => 'value' in k), 'no value, not even encrypted');

  writeFileSync(join(dir, 'config.json'), JSON.stringify({ security: { keyStore: ks, masterKeyFile: mk } }));
  const viaConfig = cli(['list', '--config', join(dir, 'config.json')]);
  tt.equal(viaConfig.status, 0, viaConfig.stderr);
  tt.equal(viaConfig.stdout, list.stdout, 'the paths from config security');
  const noStore = cli(['list']);
  tt.equal(noStore.status, 2);
  tt.match(noStore.stderr, /no key store: give --key-store PATH/);

  // The generated key, got out of a module under a KEK the test knows, to search for it too.
  const m = new SoftwareSecurityModule();
  KeyStore.load(ks, masterKeyFrom({ env: {}, file: mk }), m);
  const probe = randomBytes(16);
  m.loadClearKey('probe', 'ZMK', probe);
  const d = createDecipheriv('des-ede', probe, null);
  d.setAutoPadding(false);
  const generated = Buffer.concat([d.update(m.exportKey('T0000001.PIK.1', 'probe').cryptogram), d.final()]).toString('hex');
  const out = seen.join('\n').toUpperCase();
  for (const k of [TMK, PIK, generated.toUpperCase(), crypt]) tt.notOk(out.includes(k), 'no clear key (nor cryptogram) on stdout or stderr');
  const master = readFileSync(mk, 'utf8').trim().toUpperCase();
  tt.notOk(out.includes(master), 'nor the master key');
  tt.notOk(readFileSync(ks, 'utf8').toUpperCase().includes(master), 'nor is it in the key store');
});
