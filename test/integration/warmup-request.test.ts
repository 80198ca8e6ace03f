/**
 * A model's first training is asked for once per warm-up, however the requests and its publication
 * interleave: a worker that saw no version yet asks for warm-up training just after v1 was published
 * (by another worker's training); its request is the v1 job again, not a second training (v2) of the
 * same first windows.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { ModelLifecycle } from '../../src/training/lifecycle.js';
import { WindowStore } from '../../src/training/window-store.js';
import type { TrainJobData, TrainJobResult } from '../../src/contracts/jobs.js';
import { publishModel } from '../support/models.js';
import { cleanupRedis, testConfig } from '../support/services.js';
import { sineWindows } from '../support/windows.js';

const config = testConfig('warmup-request', { SEQAE_WARMUP_WINDOWS: '8', SEQAE_BACKEND: 'wasm' });

describe('warm-up training requests', () => {
  const redis = createRedis(config);
  const queue = new Queue<TrainJobData, TrainJobResult>(config.queues.train, {
    connection: createRedis(config, { bullmq: true }),
    prefix: config.queues.prefix,
  });
  const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 2 });
  const store = new WindowStore(redis, {
    prefix: config.redis.keyPrefix,
    trainWindows: config.worker.trainWindows,
    pendingLimit: config.worker.pendingLimit,
  });
  const lifecycle = new ModelLifecycle(config.worker, store, registry, queue);

  beforeAll(async () => {
    await cleanupRedis(config);
    await initBackend(config.backend, { scoring: false });
  });
  afterAll(async () => {
    await queue.close();
    redis.disconnect();
  });

  it('ask for version 1 only, also when v1 was published after the decision', async () => {
    const windows = sineWindows('pump', 24, 9);
    // The first worker: warm-up reached, no version: the v1 job.
    await lifecycle.record('pump', windows.slice(0, 8), { hasModel: false, hold: true });
    // v1's training publishes; a second worker decided from what it saw before (no version).
    await publishModel(config, 'pump', 9, 4);
    expect(await registry.latestVersion('pump')).toBe(1);
    await lifecycle.record('pump', windows.slice(8, 16), { hasModel: false, hold: true });
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    expect(jobs.map((j) => j.id)).toEqual(['train@pump@v1']);
    // A retraining still names the next version.
    await lifecycle.requestTraining('pump', 'retrain');
    expect((await queue.getJobs(['waiting'])).map((j) => j.id).sort()).toEqual([
      'train@pump@v1',
      'train@pump@v2',
    ]);
  });
});
