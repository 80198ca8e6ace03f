import { CommanderError, type Command } from 'commander';
import { declarations, settings } from '../config/settings.js';
import { SeqaeError } from '../errors/index.js';
import { redact } from '../log/index.js';

/**
 * Parses and runs a command line with seqae's exit codes: 2 with one line (no stack, no help) for a
 * bad flag or setting, which is the user's to fix; 1 with one line for anything else that stops a
 * command (a service that does not answer at start, say), its stack only at SEQAE_LOG_LEVEL debug
 * or trace; 0 after --help and --version.
 */
export async function runCli(
  program: Command,
  argv: string[],
  from: 'node' | 'user' = 'node',
): Promise<void> {
  oneLineErrors(program);
  try {
    await program.parseAsync(argv, { from });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    if (err instanceof SeqaeError && err.code === 'config') {
      console.error(`seqae: ${err.message}`);
      process.exit(2);
    }
    const verbose = ['debug', 'trace'].includes(process.env.SEQAE_LOG_LEVEL ?? '');
    const text = verbose && err instanceof Error ? err.stack : (err as Error)?.message;
    console.error(`seqae: ${redact(String(text ?? err), secretVariables())}`);
    process.exit(1);
  }
}

/** Commander's usage errors as one line naming the command, thrown to runCli rather than exiting. */
function oneLineErrors(command: Command): void {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  const name = ['seqae', ...names].join(' ');
  command.exitOverride().configureOutput({
    outputError: (text, write) => {
      const message = text.trim().replace(/^error: /, '');
      write(`${message.startsWith('seqae') ? message : `${name}: ${message} (see --help)`}\n`);
    },
  });
  for (const sub of command.commands) oneLineErrors(sub);
}

/** The values of the credential variables (the configuration may not have loaded). */
function secretVariables(): (string | undefined)[] {
  return [...declarations(settings)]
    .filter(([, s]) => s.secret)
    .map(([, s]) => process.env[s.env!]);
}
