/**
 * A small, strict argv parser (unknown flags are errors, not silently ignored), and the
 * one error a command throws to end with a status: its message goes to stderr, its
 * `output` (what was found before the failure, if anything) to stdout.
 */
export class CommandError extends Error {
  override readonly name: string = 'CommandError';
  constructor(message: string, readonly exitCode = 1, readonly output?: string) {
    super(message);
  }
}

/** A command line the command cannot take: exit 2, with the command's usage. */
export class UsageError extends CommandError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super(message, 2);
  }
}

export interface Parsed {
  flags: Map<string, string | true>;
  positional: string[];
}

/** `spec` maps each allowed flag to whether it takes a value. */
export function parseArgs(argv: readonly string[], spec: Record<string, boolean>): Parsed {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-' || !a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (!(name in spec)) throw new UsageError(`unknown option --${name}`);
    if (spec[name]) {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, v);
    } else {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
    }
  }
  return { flags, positional };
}

export function flag(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** The single input: the positional argument, or stdin when it is '-' or absent. */
export async function readInput(p: Parsed, what: string): Promise<string> {
  if (p.positional.length > 1) throw new UsageError(`expected one ${what} argument, got ${p.positional.length}`);
  const arg = p.positional[0];
  if (arg !== undefined && arg !== '-') return arg;
  if (process.stdin.isTTY) throw new UsageError(`expected ${what} as an argument or on stdin`);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
