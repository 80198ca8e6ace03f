import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Process and file helpers for the local services. Everything here works from pid files, so that the
 * process that stops a server need not be the one that started it (`services:up` then `services:down`).
 */

/** True while `pid` runs. A zombie (exited, not yet reaped by its parent) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

/** The command line of `pid` joined by spaces, or '' where it cannot be read. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * The pid in `file` if that process still runs and (where /proc tells) its command line contains
 * `marker`, which guards against a recycled pid; else undefined, and a stale file is removed.
 */
export function livePid(file: string, marker: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  const cmd = Number.isInteger(pid) && pid > 0 && isAlive(pid) ? commandLine(pid) : undefined;
  if (cmd === undefined || (cmd !== '' && !cmd.includes(marker))) {
    rmSync(file, { force: true });
    return undefined;
  }
  return pid;
}

/** SIGTERM, wait up to `graceMs` for a clean exit, then SIGKILL. Resolves once the process is gone. */
export async function stopProcess(
  pid: number,
  graceMs = 30_000,
): Promise<'stopped' | 'killed' | 'not running'> {
  if (!isAlive(pid)) return 'not running';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'not running';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // exited between the check and the kill
  }
  while (isAlive(pid)) await sleep(50);
  return 'killed';
}

/**
 * A cross-process lock (an exclusively created file), so that two test runs or a test run and
 * `services:up` never start the same server twice. A lock older than `staleMs` is taken over: its
 * holder died without releasing it.
 */
export async function withLock<T>(
  file: string,
  fn: () => Promise<T>,
  { waitMs = 120_000, staleMs = 150_000 } = {},
): Promise<T> {
  mkdirSync(dirname(file), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      closeSync(openSync(file, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(file).mtimeMs > staleMs) rmSync(file, { force: true });
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${file}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
