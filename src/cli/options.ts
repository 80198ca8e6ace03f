import { InvalidArgumentError, Option, type Command } from 'commander';
import type { z } from 'zod';
import { readConfig, type LoadedConfig } from '../config/index.js';
import {
  declarations,
  settings,
  takes,
  type CommandName,
  type Setting,
} from '../config/settings.js';

/** The help line of a setting: its meaning, then (unless left out) its variable, and its default. */
function help(s: Setting, variable = true): string {
  const where = [variable && s.env, s.default !== undefined && `default: ${s.default}`];
  const notes = where.filter(Boolean).join(', ');
  return notes ? `${s.description} [${notes}]` : s.description;
}

/** A flag of `s`: a variable's flag passes its text on to the loader, a run option parses it here. */
function flagOption(s: Setting & { flag: string }): Option {
  if (s.env) return new Option(s.flag, help(s));
  const option = new Option(s.flag, s.description);
  const parse = (text: string) => {
    const result = (s.schema as z.ZodType).safeParse(text);
    if (!result.success) throw new InvalidArgumentError(result.error.issues[0]?.message ?? '');
    return result.data;
  };
  if (option.required || option.optional) option.argParser(parse);
  if (s.default !== undefined) option.default(parse(s.default), s.default);
  if (s.required) option.makeOptionMandatory();
  return option;
}

const hasFlag = (s: Setting): s is Setting & { flag: string } => s.flag !== undefined;

/** The settings of SeqaeConfig that `name` takes (any of them, for a list). */
const configSettings = (name: CommandName | readonly CommandName[]) =>
  [...declarations(settings)]
    .map(([, s]) => s)
    .filter((s) => (typeof name === 'string' ? [name] : name).some((n) => takes(s, n)));

/**
 * Declares on `command` the flags of every setting it takes (and of `runOptions`, flags only), and
 * lists in its help the settings it reads from variables alone.
 */
export function addSettingFlags(
  command: Command,
  name: CommandName | readonly CommandName[],
  runOptions: object = {},
): Command {
  for (const [, s] of declarations(runOptions)) if (hasFlag(s)) command.addOption(flagOption(s));
  const own = configSettings(name);
  for (const s of own.filter(hasFlag)) command.addOption(flagOption(s));
  const variablesOnly = own.filter((s) => !hasFlag(s));
  const width = Math.max(...variablesOnly.map((s) => s.env!.length));
  command.addHelpText(
    'after',
    `\nAlso read from the environment (no flag):\n${variablesOnly
      .map((s) => `  ${s.env!.padEnd(width)}  ${help(s, false)}`)
      .join('\n')}`,
  );
  return command;
}

/** Declares on `command` the flags of `runOptions` alone (a command whose settings come from variables). */
export function addRunFlags(command: Command, runOptions: object): Command {
  for (const [, s] of declarations(runOptions)) if (hasFlag(s)) command.addOption(flagOption(s));
  return command;
}

/**
 * The configuration from the environment with `name`'s flags on top. This process's environment is
 * left as it is: a training child gets the resolved configuration from its parent (TrainWorker).
 */
export function configFrom(
  options: Record<string, unknown>,
  name: CommandName | readonly CommandName[],
  env: Record<string, string | undefined> = process.env,
): LoadedConfig {
  const overrides = flagOverrides(options, name);
  return readConfig(env, overrides, typeof name === 'string' ? name : name[0]!);
}

/** The variables that `name`'s flags given in `options` stand for (`--units 8` → SEQAE_UNITS=8). */
export function flagOverrides(
  options: Record<string, unknown>,
  name: CommandName | readonly CommandName[],
): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const s of configSettings(name).filter(hasFlag)) {
    const value = options[new Option(s.flag).attributeName()];
    if (value !== undefined) overrides[s.env!] = String(value);
  }
  return overrides;
}

/**
 * Runs a process's start-up; a port that is taken is the user's to fix: one line naming it, exit 2,
 * before any work was taken.
 */
export async function startOrExit<T>(start: () => Promise<T>, what: string): Promise<T> {
  try {
    return await start();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      const hint = code === 'EADDRINUSE' ? 'the port is taken' : 'permission denied';
      console.error(
        `seqae ${what}: ${(err as Error).message} (${hint}: set SEQAE_HTTP_PORT or --http-port)`,
      );
      process.exit(2);
    }
    throw err;
  }
}
