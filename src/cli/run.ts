import { CommanderError, type Command } from 'commander';
import { SeqaeError } from '../errors/index.js';

/**
 * Parses and runs a command line with seqae's exit codes: commander's own for usage errors, 2 with
 * one line (no stack) for a bad setting, which is the user's to fix; anything else is thrown.
 */
export async function runCli(
  program: Command,
  argv: string[],
  from: 'node' | 'user' = 'node',
): Promise<void> {
  try {
    await program.parseAsync(argv, { from });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof SeqaeError && err.code === 'config') {
      console.error(`seqae: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}
