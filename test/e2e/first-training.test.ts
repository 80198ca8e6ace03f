/**
 * A stream's first model learns from the stream's first windows (its warm-up), whatever the arrival
 * speed: here the whole stream arrives at once, its first 64 windows around 10 and the 600 after them
 * around 1010, and the first version must have been fitted on the first ones (its normalisation says
 * which). Before, it trained on the newest SEQAE_TRAIN_WINDOWS windows: the stream's future.
 */
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { sendWindows } from '../support/kafka.js';
import { cleanupRedis, testConfig } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

const config = testConfig('first-training', {
  SEQAE_HTTP_PORT: '0',
  SEQAE_ROLES: 'train,stream',
  SEQAE_BACKEND: 'wasm',
  SEQAE_WARMUP_WINDOWS: '64',
  SEQAE_UNITS: '4',
  SEQAE_EPOCHS: '2',
});

describe("a stream's first training", () => {
  let worker: WorkerProcess | undefined;
  const registry = new ModelRegistry(createRedis(config), {
    prefix: config.redis.keyPrefix,
    keep: config.worker.modelKeep,
  });
  afterAll(async () => {
    await worker?.stop();
    await registry.close();
  });

  it('uses its first windows even when the whole stream has already arrived', async () => {
    await cleanupRedis(config);
    const early = sineWindows('replayed', 64, 9);
    const later = sineWindows('replayed', 600, 9, 64).map((w) => ({
      ...w,
      values: w.values.map((row) => row.map((v) => v + 1000)),
    }));
    // All of it on the topic before the worker starts: a file replayed faster than a model trains.
    await sendWindows(config, [...early, ...later]);
    worker = await WorkerProcess.start(config, pino({ level: 'warn' }, pino.destination(2)));
    const v1 = await waitFor('the first version', () => registry.get('replayed', 1), 150_000);
    const model = await SequenceAutoencoder.load(v1.artifact);
    const mean = model.normalisation.offset[0]!;
    model.dispose();
    expect(mean).toBeGreaterThan(5);
    expect(mean).toBeLessThan(15); // the early windows' level (10), not the later ones' (1010)
  });
});
