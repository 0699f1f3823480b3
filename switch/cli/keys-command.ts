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
 */
import type { SwitchConfig } from '../config/index.js';
import { Resealer, type ResealSummary } from '../engine/resealer.js';
import { Counters } from '../observe/counters.js';
import { createLogger } from '../observe/log.js';
import { addSealKey } from '../store/secrets.js';
import { CommandError, parseArgs, UsageError } from './args.js';
import { keyFileOf, loadCardKeys } from './card-keys.js';
import { dialectsOf } from './start-command.js';
import { storeOf, withStore } from './store-arg.js';

export const KEYS_USAGE =
  'revswitch keys status [--config FILE | --store URL] [--json]\n' +
  '  revswitch keys rotate-pan [--config FILE | --store URL]\n' +
  '  revswitch keys reseal [--config FILE | --store URL] [--json]';

const SPEC = { config: true, store: true, json: false };

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

async function pass(c: SwitchConfig, p: ReturnType<typeof parseArgs>, dryRun: boolean): Promise<string> {
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

export async function keysCommand(argv: string[]): Promise<string> {
  const [sub, ...rest] = argv;
  const p = parseArgs(rest, SPEC);
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const { url, config } = storeOf(p);
  const c: SwitchConfig = { ...config, store: url };
  switch (sub) {
    case 'status':
      return pass(c, p, true);
    case 'reseal':
      return pass(c, p, false);
    case 'rotate-pan': {
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
    default:
      throw new UsageError(sub === undefined ? 'expected status, rotate-pan or reseal' : `unknown keys command ${JSON.stringify(sub)}; expected status, rotate-pan or reseal`);
  }
}
