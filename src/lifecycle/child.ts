import { spawn, type ChildProcess } from 'node:child_process';

/** A child process in its own process group (its training children with it) and its last lines. */
export interface GroupChild {
  name: string;
  proc: ChildProcess;
  /** Its last `keep` lines of stdout and stderr, each prefixed with `tag`. */
  lines: string[];
  exited: Promise<number | string>;
}

/** Starts `command args` in a process group of its own, keeping its last `keep` output lines. */
export function spawnGroup(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; keep: number; tag?: string },
): GroupChild {
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const tag = options.tag ?? '';
  const lines: string[] = [];
  const onData = (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      lines.push(`${tag}${line}`);
      if (lines.length > options.keep) lines.shift();
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
    proc.on('error', (err) => {
      lines.push(`${tag}${String(err)}`);
      if (proc.pid === undefined) resolve(-1);
    });
  });
  return { name, proc, lines, exited };
}

/** Signals a child's whole process group (the child and what it started); gone already is fine. */
function signalGroup(c: GroupChild, signal: NodeJS.Signals): void {
  if (c.proc.pid === undefined) return;
  try {
    process.kill(-c.proc.pid, signal);
  } catch {
    // ESRCH: the group is gone
  }
}

/**
 * Stops a child: SIGTERM to it (`term: 'child'`: a worker stops gracefully and ends its training
 * children) or to its whole group, then SIGKILL to its group after `graceMs` or once it exited, so
 * that nothing it started outlives it (training children outlive a parent killed hard).
 */
export async function stopGroup(
  c: GroupChild,
  graceMs: number,
  term: 'child' | 'group' = 'child',
): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) {
    if (term === 'child') c.proc.kill('SIGTERM');
    else signalGroup(c, 'SIGTERM');
  }
  const timer = setTimeout(() => signalGroup(c, 'SIGKILL'), graceMs);
  try {
    await c.exited;
  } finally {
    clearTimeout(timer);
    signalGroup(c, 'SIGKILL');
  }
}
