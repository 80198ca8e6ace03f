/**
 * Training children start with the worker through BullMQ's private `childPool` (no public API gives
 * it): a BullMQ upgrade that renames or reshapes it must fail here, not leave workers silently
 * starting their children at the first job.
 */
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createRedis } from '../../src/transport/redis.js';
import { sandboxPool } from '../../src/training/train-worker.js';
import { testConfig } from '../support/services.js';

const config = testConfig('train-pool');

describe("BullMQ's sandbox pool", () => {
  it('is reachable on a sandboxed worker, with retain() and release()', async () => {
    const connection = createRedis(config, { bullmq: true });
    const worker = new Worker('train-pool', new URL(import.meta.url).pathname, {
      connection,
      prefix: config.queues.prefix,
      useWorkerThreads: false,
      autorun: false,
    });
    try {
      const pool = sandboxPool(worker);
      expect(typeof pool.retain).toBe('function');
      expect(typeof pool.release).toBe('function');
    } finally {
      await worker.close(true);
      connection.disconnect();
    }
  });

  it('is refused with a message naming the upgrade when it is missing', () => {
    expect(() => sandboxPool({} as Worker)).toThrow(/BullMQ upgrade changed its internals/);
  });
});
