import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { SeqaeConfig } from '../config/index.js';

/**
 * An ioredis connection from seqae's configuration. BullMQ needs `maxRetriesPerRequest: null` on the
 * connections its Workers block on; pass `{ bullmq: true }` for those.
 */
export function createRedis(
  config: Pick<SeqaeConfig, 'redis'>,
  options: { bullmq?: boolean; lazyConnect?: boolean; name?: string } = {},
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
