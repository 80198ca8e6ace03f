/**
 * The worker's Redis connections pipeline the commands of one tick (REDIS_AUTOPIPELINING, real
 * Redis): they go out together and come back in order; other connections, and every connection
 * with the setting off, send each command as it comes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/transport/redis.js';
import { cleanupRedis, testConfig } from '../support/services.js';

const config = testConfig('redis-autopipelining');
const off = testConfig('redis-autopipelining', { REDIS_AUTOPIPELINING: 'false' });

describe('automatic pipelining of Redis commands', () => {
  const opened: Redis[] = [];
  const open = (...args: Parameters<typeof createRedis>) => {
    const r = createRedis(...args);
    opened.push(r);
    return r;
  };
  afterAll(async () => {
    for (const r of opened) r.disconnect();
    await cleanupRedis(config);
  });

  /** How many of `n` increments issued in one tick wait in an automatic pipeline, and the replies. */
  async function burst(redis: Redis, key: string, n: number) {
    await redis.ping();
    const replies = Array.from({ length: n }, () => redis.incr(key));
    const queued = redis.autoPipelineQueueSize;
    return { queued, replies: await Promise.all(replies) };
  }

  it('sends the commands of a tick as one pipeline, replies in order, on connections that ask', async () => {
    const redis = open(config, { name: 'seqae-test', autoPipelining: true });
    const key = `${config.redis.keyPrefix}:pipelined`;
    const { queued, replies } = await burst(redis, key, 50);
    expect(queued).toBe(50);
    expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // Blocking commands are sent as they come: a blocked pop holds no pipeline of later commands.
    expect(redis.options.autoPipeliningIgnoredCommands).toContain('bzpopmin');
  });

  it('sends each command as it comes on other connections, and with the setting off', async () => {
    const direct = [
      open(config, { name: 'seqae-test' }),
      open(off, { name: 'seqae-test', autoPipelining: true }),
    ];
    for (const [i, redis] of direct.entries()) {
      const key = `${config.redis.keyPrefix}:direct:${i}`;
      const { queued, replies } = await burst(redis, key, 20);
      expect(queued).toBe(0);
      expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
  });
});
