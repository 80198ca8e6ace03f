import { CommanderError, type Command } from 'commander';
import { SeqaeError } from '../errors/index.js';

/**
 * Parses and runs a command line with seqae's exit codes: commander's own for usage errors, 2 with
 * one line (no stack) for a bad setting, which is the user's to fix; 1 with one line for anything
 * else that stops a command (a service that does not answer at start, say), its stack only at
 * SEQAE_LOG_LEVEL debug or trace.
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
    const verbose = ['debug', 'trace'].includes(process.env.SEQAE_LOG_LEVEL ?? '');
    console.error(
      `seqae: ${verbose && err instanceof Error ? err.stack : String((err as Error)?.message ?? err)}`,
    );
    process.exit(1);
  }
}
