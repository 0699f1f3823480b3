/**
 * `revswitch keys`: the PAN sealing keys, named by id and check value, never shown.
 *
 *   keys status      which key seals, and how many sealed messages are under each key
 *                    (and how many still wait to be re-sealed), from a dry-run pass;
 *   keys rotate-pan  adds a new random sealing key to the key file; the switch seals
 *                    with it from its next start, and its re-sealing pass (or `keys
 *                    reseal`) moves the old rows over. Keys from config (panSealKeys) are
 *                    added by hand: this command never prints a key;
 *   keys reseal      one re-sealing pass now (safe beside a running switch: each row is
 *                    rewritten only if unchanged since it was read).
 *
 * And the security module's key store (edge/key-store.ts), named by id and KCV:
 *
 *   keys init        an empty key store and its master key file (0600), if absent;
 *   keys list        the keys, their owners, states and check values;
 *   keys import      a key from a key ceremony, or one given under a KEK of the store,
 *                    read from stdin: a key on the command line shows in `ps`;
 *   keys rotate      a new value for a key, the old one kept as previous.
 */
import { existsSync } from 'node:fs';
import { ConfigError, loadConfigFile, type SwitchConfig } from '../config/index.js';
import { KEY_TYPES, KeyStore, KeyStoreError, type KeyEntryInfo, type KeyOwner } from '../edge/key-store.js';
import { createMasterKeyFile, masterKeyFrom } from '../edge/master-key.js';
import { SoftwareSecurityModule, type KeyType } from '../edge/security-module.js';
import { Resealer, type ResealSummary } from '../engine/resealer.js';
import { Counters } from '../observe/counters.js';
import { createLogger } from '../observe/log.js';
import { addSealKey } from '../store/secrets.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { keyFileOf, loadCardKeys } from './card-keys.js';
import { dialectsOf } from './start-command.js';
import { storeOf, withStore } from './store-arg.js';
import { examples, flag, jsonOption, runAlone, runs, storeOptions, type Parsed } from './kit.js';
import { alignTable, stdoutColour } from './style.js';

export const KEYS_USAGE =
  'revswitch keys status [--config FILE | --store URL] [--json]\n' +
  '  revswitch keys rotate-pan [--config FILE | --store URL]\n' +
  '  revswitch keys reseal [--config FILE | --store URL] [--json]\n' +
  '  revswitch keys init --key-store PATH --master-key-file PATH\n' +
  '  revswitch keys list [--key-store PATH | --config FILE] [--master-key-file PATH] [--json]\n' +
  '  revswitch keys import --id ID --type TYPE --kcv KCV --owner terminal:TID|merchant:MID|upstream:NAME [--under KEK_ID]\n' +
  '      [--key-store PATH | --config FILE] [--master-key-file PATH] < key.hex   (the key, or with --under its cryptogram, as hex on stdin)\n' +
  '  revswitch keys rotate --id ID [--key-store PATH | --config FILE] [--master-key-file PATH]';

/** What a pass found, for a person. */
function describe(s: ResealSummary, current: string, dryRun: boolean): string {
  const keys = Object.entries(s.byKey).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `  ${k}: ${n}${k === current ? ' (current)' : ''}`);
  return [
    `sealing key: ${current}`,
    `sealed messages: ${s.scanned}`,
    ...keys,
    `${dryRun ? 'to re-seal' : 're-sealed'}: ${s.resealed}`,
    ...(s.raced > 0 ? [`changed meanwhile (next pass): ${s.raced}`] : []),
    ...(s.failed > 0 ? [`cannot be opened or have no configured upstream (left as they are; see the log): ${s.failed}`] : []),
  ].join('\n');
}

async function pass(c: SwitchConfig, p: Parsed, dryRun: boolean): Promise<string> {
  const { keys } = loadCardKeys({ configured: c.panHashKey, sealKeys: c.panSealKeys, keyFile: keyFileOf(c.store) });
  const dialects = dialectsOf(c);
  const byUpstream = new Map(c.upstreams.map((u) => [u.name, u.dialect]));
  // With no upstream configured the switch runs the demo issuer in the listener's dialect.
  if (c.upstreams.length === 0) byUpstream.set('demo-issuer', c.listeners[0].dialect);
  const log = createLogger('warn', (line) => process.stderr.write(line));
  const counters = new Counters();
  const summary = await withStore(p, (store) => {
    const r = new Resealer(store, keys, (u) => {
      const d = byUpstream.get(u);
      return d === undefined ? undefined : dialects(d);
    }, log, counters, { pauseMs: 0 });
    return r.pass(dryRun);
  });
  if (p.flags.has('json')) return JSON.stringify({ currentKey: keys.currentKeyId, keys: keys.keyIds(), ...summary }, null, 2);
  return describe(summary, keys.currentKeyId, dryRun);
}

/** The key store and master key file: flags first, then the config's `security`. */
function storePaths(p: Parsed): { keyStore: string | null; masterKeyFile: string | null } {
  const file = flag(p, 'config');
  let security: Partial<SwitchConfig['security']> = {};
  if (file !== undefined) {
    try {
      security = loadConfigFile(file).security;
    } catch (e) {
      throw e instanceof ConfigError ? new UsageError(e.message) : e;
    }
  }
  return { keyStore: flag(p, 'key-store') ?? security.keyStore ?? null, masterKeyFile: flag(p, 'master-key-file') ?? security.masterKeyFile ?? null };
}

function required(p: Parsed, name: string): string {
  const v = flag(p, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

/** The key store, its keys loaded into a module of this process only. */
function openKeyStore(path: string, masterKeyFile: string | null): KeyStore {
  let master: Buffer;
  try {
    master = masterKeyFrom({ env: process.env, file: masterKeyFile });
  } catch (e) {
    throw new CommandError((e as Error).message, 1);
  }
  try {
    return KeyStore.load(path, master, new SoftwareSecurityModule());
  } finally {
    master.fill(0);
  }
}

function parseOwner(text: string): KeyOwner {
  const m = /^(terminal|merchant|upstream):(.+)$/.exec(text);
  if (m === null) throw new UsageError('--owner: expected terminal:TID, merchant:MID or upstream:NAME');
  return { [m[1]]: m[2] };
}

function parseType(text: string): KeyType {
  const t = KEY_TYPES.find((k) => k === text.toUpperCase());
  if (t === undefined) throw new UsageError(`--type: expected one of ${KEY_TYPES.join(', ')}`);
  return t;
}

/**
 * Hex digits (whitespace between groups allowed) as bytes, decoded from the bytes read so
 * no string of the key is made; the input is zeroed. Errors say how many digits, never which.
 */
function keyBytes(input: Buffer, what: string): Buffer {
  const digits = input.filter((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
  input.fill(0);
  try {
    const nibble = (b: number): number => (b >= 0x30 && b <= 0x39 ? b - 0x30 : (b | 0x20) >= 0x61 && (b | 0x20) <= 0x66 ? (b | 0x20) - 0x57 : -1);
    if (![16, 32, 48].includes(digits.length) || digits.some((b) => nibble(b) < 0)) {
      throw new CommandError(`stdin: expected ${what} as 16, 32 or 48 hex digits, got ${digits.length} characters${digits.some((b) => nibble(b) < 0) ? ', not all hex' : ''}`, 1);
    }
    const out = Buffer.alloc(digits.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = (nibble(digits[2 * i]) << 4) | nibble(digits[2 * i + 1]);
    return out;
  } finally {
    digits.fill(0);
  }
}

/** All of stdin; refused from a terminal, where the key would be echoed as typed. */
async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) throw new UsageError('the key is read from stdin, and not from a terminal (it would show): pipe it in, e.g. < key.hex');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return all;
}

function ownerLabel(o: KeyOwner): string {
  return Object.entries(o).map(([k, v]) => `${k}:${String(v)}`).join(',');
}

/** One aligned line per key, with a header. */
function keyTable(keys: readonly KeyEntryInfo[]): string {
  const rows = [['ID', 'TYPE', 'OWNER', 'STATE', 'KCV', 'CREATED', 'RETIRED'],
    ...keys.map((k) => [k.id, k.type, ownerLabel(k.owner), k.state, k.kcv, k.created, k.retired ?? '-'])];
  return alignTable(rows, { header: true, colour: stdoutColour() });
}

function initCommand(keyStore: string | null, masterKeyFile: string | null): string {
  if (keyStore === null || masterKeyFile === null) throw new UsageError('init needs --key-store PATH and --master-key-file PATH (or --config FILE with security.keyStore and security.masterKeyFile)');
  const out: string[] = [];
  const fromEnv = Boolean(process.env.REVSWITCH_MASTER_KEY);
  if (existsSync(masterKeyFile)) out.push(`${masterKeyFile}: master key file exists, kept`);
  else if (existsSync(keyStore) && !fromEnv) {
    throw new CommandError(`${keyStore}: the key store exists but its master key file ${masterKeyFile} does not: a new master key would not open it; restore the file`, 1);
  } else {
    try {
      createMasterKeyFile(masterKeyFile);
    } catch (e) {
      throw new CommandError(`${masterKeyFile}: cannot create the master key file: ${(e as Error).message}`, 1);
    }
    out.push(`created master key file ${masterKeyFile} (mode 0600)`);
  }
  if (fromEnv) out.push('REVSWITCH_MASTER_KEY is set: it, not the file, encrypts the key store');
  const existed = existsSync(keyStore);
  const store = openKeyStore(keyStore, masterKeyFile);
  if (existed) out.push(`${keyStore}: key store exists (${store.list().length} keys), kept`);
  else {
    store.save();
    out.push(`created key store ${keyStore} (empty, mode 0600)`);
  }
  return out.join('\n');
}

async function keyStoreCommand(sub: string, p: Parsed, stdin: () => Promise<Buffer>): Promise<string> {
  // Not echoed: a key typed on the command line is exactly what must not reach a screen.
  if (p.positional.length > 0) throw new UsageError('unexpected argument (a key is read from stdin, never from the command line)');
  const { keyStore, masterKeyFile } = storePaths(p);
  try {
    if (sub === 'init') return initCommand(keyStore, masterKeyFile);
    if (keyStore === null) throw new UsageError('no key store: give --key-store PATH, or --config FILE with security.keyStore');
    if (sub === 'import') {
      const [id, type, kcv, owner, under] = [required(p, 'id'), parseType(required(p, 'type')), required(p, 'kcv'), parseOwner(required(p, 'owner')), flag(p, 'under')];
      const value = keyBytes(await stdin(), under === undefined ? 'the key' : 'the cryptogram');
      try {
        const store = openKeyStore(keyStore, masterKeyFile);
        const k = under === undefined ? store.importClear(id, type, value, kcv, owner) : store.importUnder(id, type, value, under, kcv, owner);
        return `imported ${k.id} (${k.type}, KCV ${k.kcv})`;
      } finally {
        value.fill(0);
      }
    }
    const store = openKeyStore(keyStore, masterKeyFile);
    if (sub === 'list') {
      const keys = store.list();
      if (p.flags.has('json')) return JSON.stringify(keys, null, 2);
      return keys.length === 0 ? `${store.path}: no keys` : keyTable(keys);
    }
    const id = required(p, 'id');
    const old = store.get(id);
    const older = old === undefined ? undefined : store.previous(old.owner, [old.type]);
    const k = store.rotate(id);
    return `rotated ${id}: new key ${k.id} (${k.type}, KCV ${k.kcv}); ${id} kept as previous` +
      (older === undefined ? '' : `; the one before it, ${older.id} (KCV ${older.kcv}), dropped`);
  } catch (e) {
    throw e instanceof KeyStoreError ? new CommandError(e.message, 1) : e;
  }
}

async function sealingCommand(sub: 'status' | 'reseal' | 'rotate-pan', p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const { url, config } = storeOf(p);
  const c: SwitchConfig = { ...config, store: url };
  if (sub === 'status') return pass(c, p, true);
  if (sub === 'reseal') return pass(c, p, false);
  if (c.panHashKey || process.env.REVSWITCH_PAN_KEY) {
    throw new CommandError('the PAN key comes from config or REVSWITCH_PAN_KEY, not a key file: add a new key to panSealKeys ' +
      '(e.g. "k1": the output of `openssl rand -hex 32`, after the existing ones), the same on every node, and restart', 1);
  }
  const keyFile = keyFileOf(c.store);
  if (keyFile === null) throw new CommandError(`store ${c.store}: no key file (only a SQLite store keeps one): use panSealKeys in the config`, 1);
  const added = addSealKey(keyFile);
  return `${keyFile}: added sealing key ${added.id} (check value ${added.checkValue}).\n` +
    'Restart the switch (or every node) to seal with it; its re-sealing pass, or `revswitch keys reseal`, moves the old rows to it. ' +
    'Keep the older keys until `revswitch keys status` shows none of their rows left.';
}

/** --config, --key-store and --master-key-file: where the key store is. */
function keyStoreOptions(cmd: Command): Command {
  return cmd
    .option('--key-store <path>', 'the key store file (default: the config\'s security.keyStore)')
    .option('--master-key-file <path>', 'the master key file (default: the config\'s security.masterKeyFile; REVSWITCH_MASTER_KEY wins over both)')
    .option('--config <file>', 'take the key store and master key file from this config file\'s security section');
}

export function registerKeys(parent: Command, stdin: () => Promise<Buffer> = readStdin): Command {
  const keys = parent.command('keys').description('the PAN sealing keys and the security module\'s key store; a key value is never shown');
  examples(keys, 'revswitch keys status --config revswitch.json', 'revswitch keys list --config revswitch.json');

  const sealing: [sub: 'status' | 'reseal' | 'rotate-pan', what: string, example: string][] = [
    ['status', 'which key seals, and how many sealed messages are under each key (a dry run of the re-sealing pass)', 'revswitch keys status --store sqlite:./data/revswitch.db'],
    ['rotate-pan', 'add a new random sealing key to the key file (the switch seals with it from its next start)', 'revswitch keys rotate-pan --config revswitch.json'],
    ['reseal', 'one re-sealing pass now, moving rows to the current key (safe beside a running switch)', 'revswitch keys reseal --config revswitch.json --json'],
  ];
  for (const [sub, what, example] of sealing) {
    const cmd = storeOptions(keys.command(sub).description(what));
    if (sub !== 'rotate-pan') jsonOption(cmd);
    examples(cmd, example);
    runs(cmd, (p) => sealingCommand(sub, p));
  }

  const init = keyStoreOptions(keys.command('init').description('create an empty key store and its master key file (mode 0600), if absent'));
  examples(init, 'revswitch keys init --key-store ./data/keys.json --master-key-file ./data/master.key');
  runs(init, (p) => keyStoreCommand('init', p, stdin));

  const list = jsonOption(keyStoreOptions(keys.command('list').description('the keys in the key store: owners, states and check values')));
  examples(list, 'revswitch keys list --config revswitch.json', 'revswitch keys list --key-store ./data/keys.json --master-key-file ./data/master.key --json');
  runs(list, (p) => keyStoreCommand('list', p, stdin));

  const imp = keyStoreOptions(keys.command('import')
    .description('import a key from a key ceremony, read as hex from stdin (clear, or with --under its cryptogram under a KEK of the store)')
    .option('--id <id>', 'the new key\'s id (required)')
    .option('--type <type>', `the key type (required): ${KEY_TYPES.join(', ')}`)
    .option('--kcv <kcv>', 'the key check value from the ceremony, checked before anything is stored (required)')
    .option('--owner <owner>', 'terminal:TID, merchant:MID or upstream:NAME (required)')
    .option('--under <kek-id>', 'stdin is the key encrypted under this KEK of the store, not the clear key'));
  examples(imp, 'revswitch keys import --id T0000001.TMK --type TMK --kcv 08D7B4 --owner terminal:T0000001 --config revswitch.json < tmk.hex');
  runs(imp, (p) => keyStoreCommand('import', p, stdin));

  const rotate = keyStoreOptions(keys.command('rotate')
    .description('a new random value for a key; the old one is kept as previous')
    .option('--id <id>', 'the key to rotate (required)'));
  examples(rotate, 'revswitch keys rotate --id T0000001.TPK --config revswitch.json');
  runs(rotate, (p) => keyStoreCommand('rotate', p, stdin));
  return keys;
}

/** `revswitch keys ...` with `argv` after "keys". */
export async function keysCommand(argv: string[], stdin: () => Promise<Buffer> = readStdin): Promise<string> {
  return runAlone((parent) => registerKeys(parent, stdin), argv);
}
