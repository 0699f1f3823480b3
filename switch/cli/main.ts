#!/usr/bin/env node
/**
 * The revswitch command line (./program.ts): the exit status of the command, and an
 * internal error, a bug, as its stack and status 70.
 */
import { runCli } from './program.js';

// `revswitch ... | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`revswitch: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
    // Sockets or timers may still be open: an internal error ends the process.
    process.exit(70);
  },
);
