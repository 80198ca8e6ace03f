import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Output lines kept per child: enough for a failure message, bounded for a chatty process. */
const KEPT_LINES = 500;

/** A child process started from the repository root, its output kept for failure messages. */
export interface Child {
  proc: ChildProcess;
  /** Its last output lines, each as `[name] line`. */
  log: string[];
  /** Resolves with the exit code (or signal name) once it has exited; -1 when it never started. */
  exited: Promise<number | string>;
}

export function spawnChild(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Child {
  const proc = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const keep = (line: string) => {
    log.push(`[${name}] ${line}`);
    if (log.length > KEPT_LINES) log.shift();
  };
  const lines = (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) if (line.trim()) keep(line);
  };
  proc.stdout!.on('data', lines);
  proc.stderr!.on('data', lines);
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
    // A command that cannot start (ENOENT) emits 'error', and 'exit' perhaps never.
    proc.on('error', (error) => {
      keep(String(error));
      if (proc.pid === undefined) resolve(-1);
    });
  });
  return { proc, log, exited };
}

/** A `seqae worker` child process (the CLI, from source) with `env` over this process's. */
export function spawnWorker(env: Record<string, string>, name: string): Child {
  return spawnChild(name, process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker'], {
    ...process.env,
    ...env,
    SEQAE_LOG_LEVEL: 'info',
  });
}

/** A `seqae produce` child process (the CLI, from source) with `args` and `env` over this process's. */
export function spawnProducer(args: string[], env: Record<string, string>, name: string): Child {
  return spawnChild(
    name,
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'produce', ...args],
    { ...process.env, ...env, SEQAE_LOG_LEVEL: 'info' },
  );
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how the child exited (undefined: no child). */
export async function stopChild(
  child: Child | undefined,
  graceMs = 30_000,
): Promise<number | string | undefined> {
  if (!child) return undefined;
  const { proc } = child;
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP port that was free on 127.0.0.1 when asked. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Pids of the processes whose parent is `pid` (a worker's training children, say). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

export interface Finished {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs `seqae <args>` (the CLI, from source) to its end: see runNode. */
export const runSeqae = (
  args: string[],
  env: Record<string, string>,
  options: { input?: string; timeoutMs?: number } = {},
): Promise<Finished> => runNode(['--import', 'tsx', 'src/cli/main.ts', ...args], env, options);

/**
 * Runs `node <args>` from the repository root to its end with `env` over this process's and `input`
 * on stdin; killed (SIGKILL) if it runs longer than `timeoutMs`, so a hung process fails its test.
 */
export async function runNode(
  args: string[],
  env: Record<string, string>,
  options: { input?: string; timeoutMs?: number } = {},
): Promise<Finished> {
  const proc = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  proc.stdin.on('error', () => {}); // a command that exits before reading its input
  proc.stdin.end(options.input ?? '');
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  try {
    const code = await new Promise<number | string>((resolve) => {
      proc.on('close', (c, signal) => resolve(c ?? signal ?? -1));
      proc.on('error', () => resolve(-1));
    });
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}
