/**
 * The one error a command throws to end with a status: its message goes to stderr, its
 * `output` (what was found before the failure, if anything) to stdout. Options are
 * commander's (./kit.ts).
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

/** The single input: the positional argument, or stdin when it is '-' or absent. */
export async function readInput(positional: readonly string[], what: string): Promise<string> {
  if (positional.length > 1) throw new UsageError(`expected one ${what} argument, got ${positional.length}`);
  const arg = positional[0];
  if (arg !== undefined && arg !== '-') return arg;
  if (process.stdin.isTTY) throw new UsageError(`expected ${what} as an argument or on stdin`);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
