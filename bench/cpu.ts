/**
 * Where a run's CPU goes, machine-wide: CPU seconds (user + system, from /proc/<pid>/stat) of the
 * bench process (producer and output collector), each worker process, the Kafka broker and Redis
 * over a measurement, so that a figure can be read as core-seconds per window in each. Linux only;
 * elsewhere, or for a process not found, that part is left out.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** /proc's clock ticks per second (USER_HZ): 100 on every Linux architecture seqae runs on. */
const TICKS = 100;

function cpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/** The first process whose command line contains `needle`. */
function findProcess(needle: string): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) return Number(pid);
    } catch {
      // gone already
    }
  }
  return undefined;
}

let services: { broker?: number; redis?: number } | undefined;

/**
 * Starts counting: the returned function gives each process's CPU seconds since, by name
 * (`bench`, `worker-1`…, `broker`, `redis`), and `total`.
 */
export function cpuMeter(workers: { name: string; pid?: number }[]): () => Record<string, number> {
  services ??= { broker: findProcess('kafka.Kafka'), redis: findProcess('redis-server') };
  const pids: [string, number][] = [
    ...workers.flatMap((w) => (w.pid === undefined ? [] : [[w.name, w.pid] as [string, number]])),
    ...(services.broker === undefined ? [] : [['broker', services.broker] as [string, number]]),
    ...(services.redis === undefined ? [] : [['redis', services.redis] as [string, number]]),
  ];
  const self0 = process.cpuUsage();
  const start = new Map(pids.map(([name, pid]) => [name, cpuSeconds(pid)]));
  return () => {
    const self = process.cpuUsage(self0);
    const used: Record<string, number> = { bench: (self.user + self.system) / 1e6 };
    for (const [name, pid] of pids) {
      const a = start.get(name);
      const b = cpuSeconds(pid);
      if (a !== undefined && b !== undefined) used[name] = b - a;
    }
    used.total = Object.values(used).reduce((s, x) => s + x, 0);
    return used;
  };
}

/** `bench 41 µs, worker-1 95 µs, broker 60 µs, …` per window, and the cores busy on average. */
export function perWindow(used: Record<string, number>, windows: number, ms: number): string {
  const parts = Object.entries(used).map(
    ([name, s]) => `${name} ${Math.round((s / windows) * 1e6)} µs`,
  );
  return `CPU per window: ${parts.join(', ')}; ${(used.total! / (ms / 1000)).toFixed(2)} cores busy`;
}
