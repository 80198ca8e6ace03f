import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { SeqaeConfig } from '../config/index.js';
import { SeqaeError } from '../errors/index.js';

/** Commands that block their connection: never held in an automatic pipeline. */
const BLOCKING = [
  'bzpopmin',
  'bzpopmax',
  'blpop',
  'brpop',
  'brpoplpush',
  'blmove',
  'blmpop',
  'xread',
];

/**
 * An ioredis connection from seqae's configuration. BullMQ needs `maxRetriesPerRequest: null` on the
 * connections its Workers block on; pass `{ bullmq: true }` for those. `autoPipelining`: the
 * commands of one tick go out as one pipeline, where REDIS_AUTOPIPELINING allows (for connections
 * that issue many commands at once, such as a worker's; blocking commands, on the connection a
 * BullMQ Worker duplicates to block on, are sent as they come).
 */
export function createRedis(
  config: Pick<SeqaeConfig, 'redis'>,
  options: {
    bullmq?: boolean;
    lazyConnect?: boolean;
    name?: string;
    autoPipelining?: boolean;
  } = {},
): Redis {
  const { redis } = config;
  const tls: RedisOptions['tls'] = redis.tls
    ? redis.tlsCa
      ? { ca: [readFileSync(redis.tlsCa, 'utf8')] }
      : {}
    : undefined;
  return new Redis(redis.url, {
    password: redis.password,
    tls,
    connectionName: options.name,
    lazyConnect: options.lazyConnect ?? false,
    maxRetriesPerRequest: options.bullmq ? null : 20,
    enableReadyCheck: true,
    enableAutoPipelining: (options.autoPipelining ?? false) && redis.autoPipelining,
    autoPipeliningIgnoredCommands: BLOCKING,
  });
}

/** Whether `err` is Redis refusing a connection's credentials (wrong password, or none given). */
export const credentialsRefused = (err: Error) => /^(WRONGPASS|NOAUTH)\b/.test(err.message);

/**
 * Resolves once `redis` is ready. When Redis refuses its credentials, ends the connection (ioredis
 * would log in again for ever) and rejects with one line naming Redis, the user and the redacted
 * URL, never the password: a setting to fix (code `config`). Any other trouble (Redis not up yet)
 * resolves too, left to the connection's usual retries, so that only credentials stop a start.
 */
export function credentialsAccepted(
  redis: Redis,
  config: Pick<SeqaeConfig, 'redis'>,
): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      redis.off('ready', done);
      redis.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      if (!credentialsRefused(err)) return done();
      redis.off('ready', done);
      redis.off('error', onError);
      redis.disconnect();
      const url = new URL(config.redis.url);
      const who =
        url.password || config.redis.password
          ? `user "${decodeURIComponent(url.username) || 'default'}"`
          : 'a connection without a password';
      const reason = err.message.split('\n')[0];
      reject(
        new SeqaeError(
          `Redis at ${url.protocol}//${url.host}${url.pathname} refused ${who} (${reason}): check the user and password in REDIS_URL or REDIS_PASSWORD`,
          { code: 'config' },
        ),
      );
    };
    redis.on('ready', done);
    redis.on('error', onError);
  });
}

/**
 * BullMQ's queues and the model registry must never be evicted: warns (naming the setting) when the
 * server's `maxmemory-policy` is not `noeviction`. A server that refuses CONFIG (managed Redis) is
 * not checked. Returns the policy, or undefined when it could not be read.
 */
export async function checkEvictionPolicy(
  redis: Pick<Redis, 'config'>,
  log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void },
): Promise<string | undefined> {
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch (err) {
    log.debug({ err: String(err) }, 'maxmemory-policy not readable (CONFIG refused): not checked');
    return undefined;
  }
  if (policy !== undefined && policy !== 'noeviction')
    log.warn(
      { maxmemoryPolicy: policy },
      `Redis maxmemory-policy is ${policy}: set it to noeviction, or queued jobs and model versions can be evicted`,
    );
  return policy;
}
