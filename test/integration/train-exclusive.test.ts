import { Queue, QueueEvents } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { WorkerProcess } from '../../src/worker/process.js';
import type { TrainJobData } from '../../src/contracts/jobs.js';
import { cleanupRedis, createTopics, testConfig } from '../support/services.js';
import { sineWindows } from '../support/windows.js';

// Two training jobs for one model, two training children: they must not train at the same time.
const config = testConfig('train-exclusive', {
  SEQAE_ROLES: 'train',
  SEQAE_TRAIN_POOL: '2',
  SEQAE_UNITS: '6',
  SEQAE_EPOCHS: '4',
  SEQAE_HTTP_PORT: '0',
  SEQAE_BACKEND: 'wasm',
});

describe('training jobs of one model', () => {
  let worker: WorkerProcess;
  const queue = new Queue<TrainJobData>(config.queues.train, {
    connection: createRedis(config, { bullmq: true }),
    prefix: config.queues.prefix,
  });
  const events = new QueueEvents(config.queues.train, {
    connection: createRedis(config, { bullmq: true }),
    prefix: config.queues.prefix,
  });
  const redis = createRedis(config);

  beforeAll(async () => {
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 1);
    await events.waitUntilReady();
    worker = await WorkerProcess.start(config, pino({ level: 'warn' }, pino.destination(2)));
  });
  afterAll(async () => {
    await worker?.stop();
    await events.close();
    await queue.close();
    redis.disconnect();
  });

  it('run one after the other, and each publishes a version', async () => {
    const windows = sineWindows('shared', 120, 10);
    const jobs = await queue.addBulk(
      ['a', 'b'].map((name) => ({
        name: 'train',
        data: { modelId: 'shared', reason: 'request' as const, windows },
        opts: { jobId: `exclusive-${name}` },
      })),
    );
    await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 120_000)));
    const [a, b] = await Promise.all(jobs.map((j) => queue.getJob(j.id!)));
    const registry = new ModelRegistry(redis, {
      prefix: config.redis.keyPrefix,
      keep: config.worker.modelKeep,
    });
    expect(await registry.versions('shared')).toEqual([1, 2]);
    // The second training began after the first one's version was published. (Training time, from
    // the versions' own records: BullMQ's finishedOn comes after the lease is released, so the next
    // job may legitimately start a moment before the first job is marked finished.)
    const [v1, v2] = [
      (await registry.get('shared', 1))!.meta,
      (await registry.get('shared', 2))!.meta,
    ];
    const trainingBegan = v2.createdAt - v2.summary!.durationMs;
    expect(trainingBegan).toBeGreaterThanOrEqual(v1.createdAt);
    expect([a!.returnvalue.version, b!.returnvalue.version].sort()).toEqual([1, 2]);
  });
});
