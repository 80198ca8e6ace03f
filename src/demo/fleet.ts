import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * The demo's child processes: `seqae worker` and `seqae produce` as `node bin/seqae.js …`, each in
 * its own process group (a terminal's Ctrl-C reaches the demo alone, which stops each child once),
 * its output to a log file, and an IPC channel that the child's CLI watches (src/cli/parent.ts):
 * when the demo is gone, even by SIGKILL, the channel closes and the child stops itself.
 */
export interface DemoChild {
  name: string;
  proc: ChildProcess;
  logFile: string;
  /** Resolves once it has exited: its exit code, or the signal's name. */
  exited: Promise<number | string>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs: number): Promise<number | string>;
}

export function startChild(options: {
  root: string;
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
}): DemoChild {
  const fd = openSync(options.logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, [join(options.root, 'bin', 'seqae.js'), ...options.args], {
      cwd: options.root,
      env: options.env,
      detached: true,
      stdio: ['ignore', fd, fd, 'ipc'],
    });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
    proc.once('error', () => {
      if (proc.pid === undefined) resolve(-1);
    });
  });
  proc.on('error', () => {}); // reported through `exited`
  proc.channel?.unref(); // the channel is the child's lifeline, not a reason for the demo to stay
  const running = () =>
    proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null;
  return {
    name: options.name,
    proc,
    logFile: options.logFile,
    exited,
    running,
    async stop(graceMs) {
      if (running()) proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (running()) proc.kill('SIGKILL');
      }, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The last non-empty line of a log file that reads as a reason (a JSON log line's `msg`/`err`). */
export function lastReason(file: string): string {
  let lines: string[];
  try {
    lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim());
  } catch {
    return 'no log';
  }
  for (const line of lines.reverse()) {
    try {
      const o = JSON.parse(line) as { msg?: string; err?: unknown; level?: number };
      if ((o.level ?? 0) < 40) continue;
      const err =
        typeof o.err === 'string' ? o.err : (o.err as { message?: string } | undefined)?.message;
      return [o.msg, err].filter(Boolean).join(': ');
    } catch {
      return line.trim(); // a plain line: the CLI's one-line errors
    }
  }
  return lines[0]?.trim() ?? 'no output';
}

/** `n` distinct TCP ports free on `host` when asked (the children's /metrics). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  // All held open at once, so that the system cannot hand out one twice.
  const servers = Array.from({ length: n }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, host, () => resolve((server.address() as { port: number }).port));
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map((s) => new Promise((resolve) => (s.listening ? s.close(resolve) : resolve(0)))),
    );
  }
}
