import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { livePid, stopProcess } from './process.js';

/**
 * Redis for development and tests: the one answering PING at REDIS_URL if any, else a `redis-server`
 * started here (no persistence; config, log and pid file in `.services/redis`).
 */
export function redisPaths(root: string) {
  const home = join(root, '.services', 'redis');
  return { home, pid: join(home, 'redis.pid'), log: join(home, 'redis.log') };
}

/** True when a Redis at `url` answers PING within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export const hasRedisServer = () =>
  spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** The pid of the redis-server these scripts started, while it runs. */
export function redisPid(root: string): number | undefined {
  return livePid(redisPaths(root).pid, 'redis-server');
}

/** Whether `url` names this machine, where these scripts may start a server. */
export function isLocalHost(host: string): boolean {
  return ['127.0.0.1', 'localhost', '::1', '[::1]', '0.0.0.0'].includes(host);
}

/** Starts redis-server on `port` (loopback only, nothing saved to disk) and waits for PING. */
export async function startRedis(options: {
  root: string;
  port: number;
  log?: (line: string) => void;
}): Promise<number> {
  if (!hasRedisServer())
    throw new Error(
      'no Redis answers and `redis-server` is not installed: install Redis 7 (Debian: apt-get install -y redis-server) or set REDIS_URL to a running one',
    );
  const p = redisPaths(options.root);
  mkdirSync(p.home, { recursive: true });
  options.log?.(`starting redis-server on 127.0.0.1:${options.port}, log ${p.log}`);
  // redis-server daemonizes itself and writes its own pid file.
  const run = spawnSync(
    'redis-server',
    [
      '--port',
      String(options.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'yes',
      '--pidfile',
      p.pid,
      '--logfile',
      p.log,
      '--dir',
      p.home,
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0)
    throw new Error(`redis-server failed to start:\n${run.stdout}${run.stderr}`);
  const url = `redis://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const pid = redisPid(options.root);
    if (pid !== undefined && (await redisAnswers(url, 500))) return pid;
    await sleep(100);
  }
  throw new Error(`redis-server did not answer on ${url}; see ${p.log}`);
}

/** Stops the redis-server these scripts started. */
export async function stopRedis(root: string): Promise<'stopped' | 'killed' | 'not running'> {
  const pid = redisPid(root);
  const result = pid === undefined ? 'not running' : await stopProcess(pid, 10_000);
  rmSync(redisPaths(root).pid, { force: true });
  return result;
}
