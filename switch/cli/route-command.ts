/**
 * `revswitch route --pan P [--f3 CODE] [--acquirer ID] [--forwarder ID] [--config FILE]
 * [--json]`: which routing rule a sale would take, and the upstreams it would try in
 * order (primary, then fallbacks). Reads the routing table only: which upstream is up is
 * the running switch's to know. The PAN is shown masked.
 *
 * Exit status: 0 a rule takes it; 1 no rule does (the switch would decline it, no route);
 * 2 usage or a bad config file.
 */
import { maskPan } from '../../codec/index.js';
import { ConfigError, defaultConfig, loadConfigFile, type SwitchConfig } from '../config/index.js';
import { RouteTable, type RouteFields } from '../edge/route-table.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, type Parsed } from './kit.js';

export const ROUTE_USAGE = 'revswitch route --pan PAN [--f3 CODE] [--acquirer ID] [--forwarder ID] [--config FILE] [--json]';

/** No rule takes the sale: exit 1, with the explanation on stdout. */
function noRoute(output: string): CommandError {
  return new CommandError('no routing rule takes this sale', 1, output);
}

function digits(p: Parsed, name: string, min: number, max: number): string | undefined {
  const v = flag(p, name);
  if (v === undefined) return undefined;
  if (v.length < min || v.length > max || ![...v].every((c) => c >= '0' && c <= '9')) {
    throw new UsageError(`--${name}: expected ${min}-${max} digits, got ${v.length} characters`);
  }
  return v;
}

/** A bad config file is a usage error here, as for start: the message names the file and the path. */
function configOf(file: string): SwitchConfig {
  try {
    return loadConfigFile(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

export function registerRoute(parent: Command): Command {
  const cmd = parent.command('route')
    .description('which routing rule a sale would take, and the upstreams it would try in order (exit 1: no rule takes it)')
    .option('--pan <pan>', 'the card number, 12 to 19 digits (required; shown masked)')
    .option('--f3 <code>', 'the processing code (field 3)')
    .option('--acquirer <id>', 'the acquiring institution id (field 32)')
    .option('--forwarder <id>', 'the forwarding institution id (field 33)')
    .option('--config <file>', 'the config whose routes to use (default: the default table over the demo issuer)');
  jsonOption(cmd);
  examples(cmd, 'revswitch route --pan 4761739001010010 --config revswitch.json', 'revswitch route --pan 6212345678901234 --f3 200000 --acquirer 4711 --json');
  return runs(cmd, routeCommand);
}

async function routeCommand(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const pan = digits(p, 'pan', 12, 19);
  if (pan === undefined) throw new UsageError('--pan is required');
  const file = flag(p, 'config');
  const cfg = file ? configOf(file) : defaultConfig();
  const upstreams = cfg.upstreams.length > 0 ? cfg.upstreams.map((u) => u.name) : ['demo-issuer'];
  const fields: RouteFields = { pan, processingCode: digits(p, 'f3', 1, 6), acquirer: digits(p, 'acquirer', 1, 11), forwarder: digits(p, 'forwarder', 1, 11) };
  const m = new RouteTable(cfg.routes, upstreams).match(fields);
  const shown = { pan: maskPan(pan), processingCode: fields.processingCode, acquirer: fields.acquirer, forwarder: fields.forwarder };
  if (p.flags.get('json') === true) {
    const out = JSON.stringify({ sale: shown, rule: m?.rule.name ?? null, index: m?.index ?? null, upstreams: m?.rule.upstreams ?? [] }, null, 2);
    if (m === null) throw noRoute(out);
    return out;
  }
  const sale = `sale: PAN ${shown.pan}${fields.processingCode ? `, F3 ${fields.processingCode}` : ''}${fields.acquirer ? `, F32 ${fields.acquirer}` : ''}${fields.forwarder ? `, F33 ${fields.forwarder}` : ''}`;
  const source = file ?? '(no config: the default table over the demo issuer)';
  if (m === null) throw noRoute(`${sale}\nno rule of ${source} takes it: the switch declines it (no route)`);
  const [primary, ...fallbacks] = m.rule.upstreams;
  return [
    sale,
    `rule: ${m.rule.name} (routes[${m.index}]${cfg.routes.length === 0 ? ', the default: every sale' : ''})`,
    `primary: ${primary}`,
    `fallbacks: ${fallbacks.length > 0 ? fallbacks.join(', ') : 'none'} (tried in order when the ones before are down)`,
  ].join('\n');
}
