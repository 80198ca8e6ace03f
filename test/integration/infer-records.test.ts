/**
 * The infer worker's training records (RecordBatcher over ModelLifecycle and WindowStore, real
 * Redis and BullMQ): the calls of one tick, of any models, are one transaction, written while the
 * callers are still being scored; each model asks for training at most once per flush and case.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainJobData, TrainJobResult } from '../../src/contracts/jobs.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { ModelLifecycle, type RecordCounts } from '../../src/training/lifecycle.js';
import { WindowStore } from '../../src/training/window-store.js';
import { createRedis } from '../../src/transport/redis.js';
import { RecordBatcher } from '../../src/worker/record-batcher.js';
import { cleanupRedis, testConfig } from '../support/services.js';
import { sineWindows } from '../support/windows.js';

const config = testConfig('infer-records', { SEQAE_WARMUP_WINDOWS: '4' });

describe('the infer worker’s training records', () => {
  const redis = createRedis(config);
  let transactions = 0;
  // The real connection, its transactions counted.
  const counted = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop === 'multi')
        return (...args: unknown[]) => {
          transactions++;
          return (target.multi as (...a: unknown[]) => unknown)(...args);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  }) as Redis;
  const queue = new Queue<TrainJobData, TrainJobResult>(config.queues.train, {
    connection: createRedis(config, { bullmq: true }),
    prefix: config.queues.prefix,
  });
  const store = new WindowStore(counted, {
    prefix: config.redis.keyPrefix,
    trainWindows: config.worker.trainWindows,
    pendingLimit: config.worker.pendingLimit,
  });
  const lifecycle = new ModelLifecycle(
    config.worker,
    store,
    new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 2 }),
    queue,
  );
  const decisions: [string, boolean][] = [];
  const batcher = new RecordBatcher({
    recordMany: (batch) => lifecycle.recordMany(batch),
    decide: (modelId: string, counts: RecordCounts, hasModel: boolean) => {
      decisions.push([modelId, hasModel]);
      return lifecycle.decide(modelId, counts, hasModel);
    },
  });

  beforeAll(() => cleanupRedis(config));
  afterAll(async () => {
    await queue.close();
    redis.disconnect();
  });

  it('writes the calls of one tick, of several models, in one transaction', async () => {
    const a = sineWindows('rec-a', 3, 9);
    const b = sineWindows('rec-b', 2, 9);
    transactions = 0;
    decisions.length = 0;
    let scored!: (has: boolean) => void;
    const hasModel = new Promise<boolean>((resolve) => (scored = resolve));
    const calls = [
      batcher.record('rec-a', [a[0]!], true),
      batcher.record('rec-b', b, hasModel),
      batcher.record('rec-a', a.slice(1), true),
    ];
    // Written before the scoring of the second caller says anything.
    await new Promise((r) => setTimeout(r, 50));
    expect(transactions).toBe(1);
    expect((await store.recent('rec-b')).map((w) => w.seq)).toEqual(b.map((w) => w.seq));
    scored(true);
    await Promise.all(calls);
    expect((await store.recent('rec-a')).map((w) => w.seq)).toEqual(a.map((w) => w.seq));
    expect(await redis.get(`${config.redis.keyPrefix}:buf:{rec-a}:seen`)).toBe('3');
    expect(decisions.sort()).toEqual([
      ['rec-a', true],
      ['rec-b', true],
    ]);
  });

  it('asks for warm-up training once per model and flush, whatever the callers', async () => {
    decisions.length = 0;
    const windows = sineWindows('rec-warm', 6, 9);
    await Promise.all(windows.map((w) => batcher.record('rec-warm', [w], false)));
    expect(decisions).toEqual([['rec-warm', false]]);
    expect((await queue.getJobs(['waiting'])).map((j) => j.id)).toContain('train@rec-warm@v1');
  });

  it('records the windows of a caller whose scoring failed, and resolves it', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      decisions.length = 0;
      const [w] = sineWindows('rec-failed', 1, 9);
      await batcher.record('rec-failed', [w!], Promise.reject(new Error('publish failed')));
      await new Promise((r) => setTimeout(r, 20));
      expect((await store.recent('rec-failed')).map((x) => x.seq)).toEqual([w!.seq]);
      expect(decisions).toEqual([]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('rejects the callers of a model whose write Redis refused, and only those', async () => {
    // A key of the wrong type: Redis refuses the push inside the transaction.
    await redis.set(`${config.redis.keyPrefix}:buf:{rec-broken}:recent`, 'not a list');
    const [w] = sineWindows('rec-broken', 1, 9);
    const [x] = sineWindows('rec-fine', 1, 9);
    const results = await Promise.allSettled([
      batcher.record('rec-broken', [w!], true),
      batcher.record('rec-fine', [x!], true),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect((await store.recent('rec-fine')).map((r) => r.seq)).toEqual([x!.seq]);
  });
});
