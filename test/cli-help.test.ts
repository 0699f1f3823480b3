/**
 * The command line as a person meets it: --version, --help on every command and
 * subcommand (taken from the commander program itself, so a new command is covered
 * without touching this file), suggestions for a mistyped command, exit 2 for a usage
 * error, start's flags over its config file, --json, and colour only for a terminal.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import t from 'tap';
import { parsedOf } from '../switch/cli/kit.js';
import { formatNodes, nodeStatus } from '../switch/cli/nodes-command.js';
import { buildProgram, packageVersion, runCli } from '../switch/cli/program.js';
import { buildConfig } from '../switch/cli/start-command.js';
import { alignTable, colourWanted } from '../switch/cli/style.js';
import type { SwitchConfig } from '../switch/config/index.js';
import { nodeArgsFor, ROOT } from './support/built.js';

const CLI = nodeArgsFor('switch/cli/main');
const ESC = '\x1b';

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8', env });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The command line in this process: its exit status and what it wrote. */
async function inProcess(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

/** Every command and subcommand of the program, as the words that name it. */
function commandPaths(c: Command, prefix: string[] = []): string[][] {
  return c.commands.flatMap((sub) => [[...prefix, sub.name()], ...commandPaths(sub, [...prefix, sub.name()])]);
}

function find(program: Command, path: readonly string[]): Command {
  let c = program;
  for (const name of path) {
    const next = c.commands.find((s) => s.name() === name);
    if (next === undefined) throw new Error(`no command ${path.join(' ')}`);
    c = next;
  }
  return c;
}

t.test('--version prints the version of package.json', async (tt) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  tt.equal(packageVersion(), pkg.version);
  const r = cli(['--version']);
  tt.equal(r.status, 0, r.stderr);
  tt.equal(r.stdout, `${pkg.version}\n`);
});

t.test('--help: the top level, and every command and subcommand', async (tt) => {
  const top = cli(['--help']);
  tt.equal(top.status, 0, top.stderr);
  tt.match(top.stdout, /Usage: revswitch \[options\] \[command\]/);
  tt.match(top.stdout, /Options:[\s\S]*--version[\s\S]*Commands:[\s\S]*start[\s\S]*Examples:\n {2}\$ revswitch demo/);
  const nested = cli(['keys', 'import', '--help']);
  tt.equal(nested.status, 0, nested.stderr);
  tt.match(nested.stdout, /Usage: revswitch keys import \[options\][\s\S]*--owner <owner>[\s\S]*Examples:/);

  const program = buildProgram(() => {});
  const paths = commandPaths(program);
  tt.ok(paths.length >= 30, `${paths.length} commands and subcommands`);
  for (const path of paths) {
    const cmd = find(program, path);
    const r = await inProcess([...path, '--help']);
    tt.equal(r.code, 0, `${path.join(' ')} --help exits 0`);
    tt.equal(r.err, '', `${path.join(' ')} --help: nothing on stderr`);
    tt.match(r.out, new RegExp(`^Usage: revswitch ${path.join(' ')} `), `${path.join(' ')}: its usage`);
    tt.match(r.out, /\nOptions:\n/, `${path.join(' ')}: its options`);
    tt.match(r.out, /\nExamples:\n {2}\$ revswitch /, `${path.join(' ')}: an example`);
    for (const o of cmd.options) tt.ok(o.long !== undefined && r.out.includes(o.long), `${path.join(' ')}: ${o.long ?? o.flags} shown`);
    // Help wraps to the width of the terminal: a default may break across lines.
    const flat = r.out.replace(/\s+/g, ' ');
    for (const o of cmd.options.filter((x) => x.defaultValue !== undefined)) {
      tt.ok(flat.includes(`(default: "${String(o.defaultValue)}")`), `${path.join(' ')}: the default of ${o.long ?? o.flags} shown`);
    }
    if (cmd.commands.length > 0) {
      const help = await inProcess(['help', ...path]);
      tt.equal(help.code, 0, `help ${path.join(' ')} exits 0`);
      tt.equal(help.out, r.out, `help ${path.join(' ')} is ${path.join(' ')} --help`);
    }
  }
});

t.test('a mistyped command is answered with the right one, exit 2', async (tt) => {
  const r = cli(['strat', '--node', 'a']);
  tt.equal(r.status, 2);
  tt.equal(r.stdout, '');
  tt.match(r.stderr, /^revswitch: unknown command "strat" \(did you mean start\?\)\n/);
  const sub = await inProcess(['keys', 'stauts']);
  tt.equal(sub.code, 2);
  tt.match(sub.err, /^revswitch keys: unknown subcommand "stauts"; expected status, rotate-pan, reseal, init, list, import or rotate \(did you mean status\?\)\nusage: revswitch keys status/);
  const opt = await inProcess(['nodes', '--jsn']);
  tt.equal(opt.code, 2);
  tt.match(opt.err, /^revswitch nodes: unknown option --jsn \(did you mean --json\?\)\n/);
});

t.test('usage errors exit 2 with the usage; none of them runs the command', async (tt) => {
  const unknown = cli(['nodes', '--bogus']);
  tt.equal(unknown.status, 2);
  tt.match(unknown.stderr, /^revswitch nodes: unknown option --bogus\nusage: revswitch nodes /);
  const cases: [string[], RegExp][] = [
    [['migrate', '--store'], /^revswitch migrate: --store needs a value\n/],
    [['manual', 'resolve', '--note', 'x'], /^revswitch manual: missing required argument 'id'\n/],
    [['rules'], /^revswitch rules: expected a subcommand: check or decide\nusage: revswitch rules check/],
    [['--bogus'], /^revswitch: unknown option --bogus\n/],
    [['report', '--json', '--format', 'csv'], /^revswitch report: --json and --format csv: give one\n/],
  ];
  for (const [argv, err] of cases) {
    const r = await inProcess(argv);
    tt.equal(r.code, 2, argv.join(' '));
    tt.match(r.err, err, argv.join(' '));
    tt.equal(r.out, '', `${argv.join(' ')}: nothing on stdout`);
  }
  const none = await inProcess([]);
  tt.equal(none.code, 2, 'no command: the help, and exit 2');
  tt.match(none.out, /Usage: revswitch/);
});

t.test('start: each flag is a config key, and wins over the config file', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-cli-help-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'revswitch.json');
  writeFileSync(file, JSON.stringify({ node: 'from-file', store: 'memory:', events: { file: { dir: join(dir, 'file-events'), fsync: true } } }));
  // start's own options, parsed by the program, into the config it would start with.
  const configFor = async (argv: string[]): Promise<SwitchConfig> => {
    const program = buildProgram(() => {});
    const start = find(program, ['start']);
    let built: SwitchConfig | null = null;
    start.action(() => { built = buildConfig(parsedOf(start)); });
    await program.parseAsync(['start', ...argv], { from: 'user' });
    if (built === null) throw new Error('start did not run');
    return built;
  };
  const fromFile = await configFor(['--config', file]);
  tt.equal(fromFile.node, 'from-file');
  tt.same(fromFile.events.file, { dir: join(dir, 'file-events'), fsync: true });
  tt.equal(fromFile.events.nats, undefined);

  const flags = await configFor(['--config', file, '--node', 'sw-b', '--events-dir', join(dir, 'flag-events'), '--nats', 'nats://10.0.0.9:4222']);
  tt.equal(flags.node, 'sw-b', '--node wins');
  tt.same(flags.events.file, { dir: join(dir, 'flag-events'), fsync: true }, '--events-dir wins; the rest of events.file stays');
  tt.equal(flags.events.nats?.url, 'nats://10.0.0.9:4222', '--nats adds a NATS sink');
  tt.equal(flags.events.nats?.subject, 'revswitch.events', 'with the defaults of events.nats');
  tt.equal(flags.store, 'memory:', 'what no flag names comes from the file');

  const bare = await configFor(['--node', 'solo', '--events-dir', join(dir, 'ev')]);
  tt.equal(bare.node, 'solo');
  tt.same(bare.events.file, { dir: join(dir, 'ev'), fsync: false });

  const named = await configFor(['--upstream', 'visa=10.0.0.5:9583']);
  tt.match(named.upstreams, [{ name: 'visa', host: '10.0.0.5', port: 9583 }], '--upstream NAME=HOST:PORT names the link');
  tt.match((await configFor(['--upstream', '10.0.0.5:9583'])).upstreams, [{ name: 'issuer' }], 'unnamed, it is "issuer", as the docs say');
  const two = join(dir, 'two.json');
  writeFileSync(two, JSON.stringify({ store: 'memory:', upstreams: [{ name: 'visa', host: '10.0.0.1', port: 1 }, { name: 'mc', host: '10.0.0.2', port: 2 }] }));
  tt.match((await configFor(['--config', two, '--upstream', 'mc=10.0.0.7:7'])).upstreams, [{ name: 'visa', port: 1 }, { name: 'mc', host: '10.0.0.7', port: 7 }],
    'with a config, NAME picks its upstream');
  await tt.rejects(configFor(['--config', two, '--upstream', 'amex=10.0.0.7:7']), /no upstream named "amex" \(it has visa, mc\)/);
  await tt.rejects(configFor(['--nats', 'http://x']), /--nats: expected a URL like "nats:\/\/127\.0\.0\.1:4222"/);
  const bad = await inProcess(['start', '--nats', 'http://x', '--store', 'memory:']);
  tt.equal(bad.code, 2, 'a bad flag value is a usage error');
  tt.match(bad.err, /^revswitch start: command line: --nats: expected a URL/);
});

t.test('--json prints JSON a program can read', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-cli-json-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rules = cli(['rules', 'check', '--json']);
  tt.equal(rules.status, 0, rules.stderr);
  const summary = JSON.parse(rules.stdout) as { valid: boolean; hash: string; summary: string[] };
  tt.equal(summary.valid, true);
  tt.match(summary.hash, /^[0-9a-f]{64}$/, 'with the hash /api/rules reports');
  tt.match(summary.summary[0], /default\.yaml: ok \(sha256 [0-9a-f]{16}\)$/);

  const route = await inProcess(['route', '--pan', '4761739001010010', '--json']);
  tt.equal(route.code, 0, route.err);
  tt.same((JSON.parse(route.out) as { sale: { pan: string } }).sale.pan.includes('4761739001010010'), false, 'the PAN masked');

  const url = `sqlite:${join(dir, 'j.db')}`;
  const migrate = await inProcess(['migrate', '--store', url, '--json']);
  tt.equal(migrate.code, 0, migrate.err);
  const m = JSON.parse(migrate.out) as { before: number; after: number; applied: number };
  tt.equal(m.before, 0);
  tt.equal(m.applied, m.after);
  const report = await inProcess(['report', '--store', url, '--json']);
  tt.equal(report.code, 0, report.err);
  tt.type(JSON.parse(report.out), 'object', 'report --json is --format json');
  const encoded = await inProcess(['encode', '--json', JSON.stringify({ mti: '0800', 11: '000001', 70: '301' })]);
  tt.equal(encoded.code, 0, encoded.err);
  tt.match((JSON.parse(encoded.out) as { hex: string }).hex, /^30383030/);
});

t.test('colour only for a terminal, and never with NO_COLOR', async (tt) => {
  tt.equal(colourWanted({ isTTY: true, env: {} }), true);
  tt.equal(colourWanted({ isTTY: false, env: {} }), false, 'a pipe or a file');
  tt.equal(colourWanted({ isTTY: undefined, env: {} }), false);
  tt.equal(colourWanted({ isTTY: true, env: { NO_COLOR: '1' } }), false);
  tt.equal(colourWanted({ isTTY: true, env: { NO_COLOR: '' } }), false, 'NO_COLOR set at all');
  tt.equal(colourWanted({ isTTY: true, env: { TERM: 'dumb' } }), false);

  const rows = [['NODE', 'STATUS', 'INFO'], ['sw-a', 'alive', 'x'], ['sw-long-name', 'stale', '']];
  const plain = alignTable(rows, { header: true });
  tt.equal(plain, 'NODE          STATUS  INFO\nsw-a          alive   x\nsw-long-name  stale');
  const cell = (v: string, c: number): 'green' | 'red' | null => (c === 1 ? (v === 'alive' ? 'green' : 'red') : null);
  const coloured = alignTable(rows, { header: true, colour: true, cell });
  tt.ok(coloured.includes(`${ESC}[1mNODE${ESC}[0m`), 'the header bold');
  tt.ok(coloured.includes(`${ESC}[32malive${ESC}[0m`), 'alive green');
  tt.equal(coloured.replaceAll(`${ESC}[1m`, '').replaceAll(`${ESC}[32m`, '').replaceAll(`${ESC}[31m`, '').replaceAll(`${ESC}[0m`, ''), plain,
    'the same columns with the colour taken out');
  tt.equal(alignTable(rows, { header: true, colour: false, cell }), plain, 'no colour asked, none given');

  // revswitch nodes: the same table, coloured only when asked (by stdoutColour(), for a terminal).
  const now = Date.now();
  const list = nodeStatus([
    { node: 'sw-a', startedAt: now - 60_000, heartbeatAt: now - 500, info: null, leases: 2, leaseUntil: now + 5000 },
    { node: 'sw-b', startedAt: now - 90_000, heartbeatAt: now - 40_000, info: null, leases: 0, leaseUntil: 0 },
  ], now, 15_000);
  const nodes = formatNodes(list);
  tt.notOk(nodes.includes(ESC), 'plain by default');
  tt.match(nodes, /^NODE {2}STATUS {2}HEARTBEAT/);
  tt.ok(formatNodes(list, true).includes(`${ESC}[31mstale${ESC}[0m`), 'a stale node red on a terminal');

  // A child's stdout is a pipe: plain text, whatever the environment says.
  const r = cli(['rules', 'check'], { ...process.env, FORCE_COLOR: '1' });
  tt.equal(r.status, 0, r.stderr);
  tt.notOk((r.stdout + r.stderr).includes(ESC), 'no escape codes into a pipe');
});
