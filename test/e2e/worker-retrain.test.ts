import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { windowId } from '../../src/contracts/window.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { cleanupRedis, createTopics, testConfig } from '../support/services.js';
import { collectOutputs, sendWindows, type Collected } from '../support/kafka.js';
import { waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

const NIN = 12;
const config = testConfig('e2e-retrain', {
  SEQAE_WARMUP_WINDOWS: '150',
  SEQAE_RETRAIN_EVERY: '150',
  SEQAE_UNITS: '8',
  SEQAE_EPOCHS: '5',
  SEQAE_EARLY_STOPPING_PATIENCE: '0', // the retraining runs its 5 epochs (warm-started from v1)
  SEQAE_LEARNING_RATE: '0.01',
  SEQAE_HTTP_PORT: '0',
  SEQAE_BATCH_WAIT_MS: '50',
  SEQAE_BACKEND: 'wasm',
});

describe('retraining', () => {
  let worker: WorkerProcess;
  let outputs: Collected;
  const redis = createRedis(config);
  const registry = new ModelRegistry(redis, {
    prefix: config.redis.keyPrefix,
    keep: config.worker.modelKeep,
  });

  beforeAll(async () => {
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 1);
    outputs = await collectOutputs(config, 'e2e-retrain');
    worker = await WorkerProcess.start(config, pino({ level: 'warn' }, pino.destination(2)));
  });

  afterAll(async () => {
    await worker?.stop();
    await outputs?.stop();
    redis.disconnect();
  });

  const versionsOf = (ids: Set<string>) =>
    new Set(
      outputs.messages
        .get('anomalies')!
        .filter((m) => ids.has(m.headers['seqae-id']!))
        .map((m) => m.value.modelVersion),
    );

  it('publishes version 2 after retrainEvery windows and the outputs switch to it without a restart', async () => {
    const phase1 = sineWindows('retrained', 200, NIN, 0);
    await sendWindows(config, phase1);
    const ids1 = new Set(phase1.map(windowId));
    await waitFor('phase 1 outputs', () =>
      [...ids1].every((id) => outputs.ids('anomalies').has(id)),
    );
    expect(versionsOf(ids1)).toEqual(new Set([1]));

    // 200 more windows scored by version 1 pass retrainEvery: a training job makes version 2.
    await sendWindows(config, sineWindows('retrained', 200, NIN, 200));
    await waitFor('version 2', async () => ((await registry.latestVersion('retrained')) ?? 0) >= 2);
    expect(await registry.versions('retrained')).toEqual(expect.arrayContaining([1, 2]));
    const meta = await registry.meta('retrained', 2);
    expect(meta?.summary?.epochs).toBe(5);

    const phase3 = sineWindows('retrained', 50, NIN, 400);
    await sendWindows(config, phase3);
    const ids3 = new Set(phase3.map(windowId));
    await waitFor('phase 3 outputs', () =>
      [...ids3].every((id) => outputs.ids('anomalies').has(id)),
    );
    expect(versionsOf(ids3)).toEqual(new Set([2]));
    const headers = outputs.messages
      .get('reconstructions')!
      .filter((m) => ids3.has(m.headers['seqae-id']!));
    expect(headers.every((m) => m.value.modelVersion === 2)).toBe(true);
  });
});
