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
