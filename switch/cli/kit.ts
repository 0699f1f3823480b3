/**
 * How a command module meets commander. Commands keep reading their options as `Parsed`
 * (values by long flag name, operands in order): that keeps each command's checks and
 * messages as they were, and lets a test hand a command options without commander.
 * An action's result is its output, kept for the caller to print: main prints it (or,
 * for a CommandError, the output the error carries) so that exit codes stay its business.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from './args.js';

export interface Parsed {
  flags: Map<string, string | true>;
  positional: string[];
}

export function flag(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** The options commander parsed for `cmd` (defaults included), by long name, and its operands. */
export function parsedOf(cmd: Command): Parsed {
  const flags = new Map<string, string | true>();
  const values = cmd.opts<Record<string, unknown>>();
  for (const o of cmd.options) {
    const v = values[o.attributeName()];
    if (o.long !== undefined && (typeof v === 'string' || v === true)) flags.set(o.long.slice(2), v);
  }
  return { flags, positional: [...cmd.args] };
}

const outputs = new WeakMap<Command, string>();

function rootOf(c: Command): Command {
  let r = c;
  while (r.parent) r = r.parent;
  return r;
}

/** `run` as `cmd`'s action; what it returns is the output of the invocation. */
export function runs(cmd: Command, run: (p: Parsed) => Promise<string> | string): Command {
  return cmd.action(async () => {
    outputs.set(rootOf(cmd), await run(parsedOf(cmd)));
  });
}

/** The "Examples:" section of a command's help. */
export function examples(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/** --store and --config, as every command on the journal takes them. */
export function storeOptions(cmd: Command): Command {
  return cmd
    .option('--store <url>', 'the store to read (sqlite:PATH or postgres://...; default: the config\'s store, sqlite:./data/revswitch.db)')
    .option('--config <file>', 'take the store (and other settings) from this config file; not with --store');
}

export function jsonOption(cmd: Command, what = 'the output as JSON, for a program'): Command {
  return cmd.option('--json', what);
}

/**
 * Settings every command shares; commander copies them to the subcommands that `command()`
 * creates afterwards, so they are set on a root before anything is registered. Errors are
 * not written by commander: they are thrown (exitOverride) and become one line in main.
 * Extra operands reach the commands, whose own checks name them (or, for a key, do not).
 */
export function configureRoot(root: Command, out: (s: string) => void): Command {
  return root
    .exitOverride()
    .allowExcessArguments(true)
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: out, writeErr: () => {}, outputError: () => {} });
}

/** The commands `argv` names from `root` down (root first): where a parse error happened. */
export function commandPath(root: Command, argv: readonly string[]): Command[] {
  const path = [root];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    const sub = path[path.length - 1].commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (sub === undefined) break;
    path.push(sub);
  }
  return path;
}

/** A usage error of commander's, with where it happened. */
export class ParseError extends UsageError {
  constructor(message: string, readonly path: readonly Command[], readonly code: string) {
    super(message);
  }
}

function orList(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** Commander's message in the CLI's own words; the suggestion, if any, kept. */
function reword(e: CommanderError, at: Command): string {
  const m = /\n\(Did you mean (.+)\?\)$/.exec(e.message);
  const hint = m ? ` (did you mean ${m[1]}?)` : '';
  const body = (m ? e.message.slice(0, m.index) : e.message).replace(/^error: /, '');
  const subs = at.commands.map((c) => c.name());
  const opt = /'(--?[^' ]+)[^']*'/.exec(body)?.[1];
  switch (e.code) {
    case 'commander.unknownCommand': {
      const name = /'([^']*)'/.exec(body)?.[1] ?? '';
      return at.parent ? `unknown subcommand ${JSON.stringify(name)}; expected ${orList(subs)}${hint}` : `unknown command ${JSON.stringify(name)}${hint}`;
    }
    case 'commander.help':
      return `expected a subcommand: ${orList(subs)}`;
    case 'commander.unknownOption':
      return `unknown option ${opt ?? body}${hint}`;
    case 'commander.optionMissingArgument':
      return `${opt ?? body} needs a value`;
    case 'commander.missingMandatoryOptionValue':
      return `${opt ?? body} is required`;
    default:
      return body.replace(/'(--?[^' ]+)[^']*'/g, '$1') + hint;
  }
}

/**
 * Parses `argv` (without the program name) and runs the command it names. Returns its
 * output, or null when commander printed help or the version instead. Commander's usage
 * errors are thrown as ParseError; what an action throws passes through unchanged.
 */
export async function invoke(root: Command, argv: readonly string[]): Promise<string | null> {
  outputs.delete(root);
  try {
    await root.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.exitCode === 0) return null;
    const path = commandPath(root, argv);
    throw new ParseError(reword(e, path[path.length - 1]), path, e.code);
  }
  return outputs.get(root) ?? '';
}

/**
 * One command on its own (`register` adds it to a bare root), run with `argv` after its
 * name: what the command functions of the modules are, for tests and for callers that
 * hold an argv.
 */
export async function runAlone(register: (parent: Command) => Command, argv: readonly string[]): Promise<string> {
  const root = configureRoot(new Command('revswitch'), () => {});
  const cmd = register(root);
  return (await invoke(root, [cmd.name(), ...argv])) ?? '';
}
