/**
 * Workers and producers look at Redis' eviction policy at start: BullMQ's jobs and the model registry
 * are lost when Redis evicts keys. A Redis of the test's own (a redis-server on a free port) with an
 * evicting policy gets a warning naming the setting; the shared one (noeviction) gets none.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { checkEvictionPolicy } from '../../src/transport/redis.js';
import { freePort, stopChild, spawnChild, type Child } from '../support/processes.js';
import { testServices } from '../support/services.js';
import { waitFor } from '../support/wait.js';

function recorder() {
  const warnings: string[] = [];
  return {
    warnings,
    log: { warn: (_: object, msg: string) => void warnings.push(msg), debug: () => {} },
  };
}

describe('Redis eviction policy check', () => {
  let server: Child | undefined;
  afterAll(async () => {
    await stopChild(server, 5_000);
  });

  it('warns, naming maxmemory-policy, when Redis may evict keys', async () => {
    const port = await freePort();
    server = spawnChild(
      'redis-lru',
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'allkeys-lru',
      ],
      process.env,
    );
    const redis = new Redis({ port, host: '127.0.0.1' });
    redis.on('error', () => {}); // refused until the server listens
    await waitFor('redis-server', async () => (await redis.ping()) === 'PONG', 10_000);
    const { warnings, log } = recorder();
    expect(await checkEvictionPolicy(redis, log)).toBe('allkeys-lru');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/maxmemory-policy is allkeys-lru: set it to noeviction/);
    redis.disconnect();
  });

  it('says nothing when Redis never evicts', async () => {
    const redis = new Redis(testServices().redisUrl);
    const { warnings, log } = recorder();
    expect(await checkEvictionPolicy(redis, log)).toBe('noeviction');
    expect(warnings).toHaveLength(0);
    redis.disconnect();
  });
});
