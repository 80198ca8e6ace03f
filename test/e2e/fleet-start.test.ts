/**
 * A fleet's first models: the first stream's model trains from scratch; the next streams' models of
 * the same shape start from its weights and fine-tune for SEQAE_WARM_START_EPOCHS (so a fleet's
 * models are ready sooner); with SEQAE_WARM_START=false every model trains from scratch.
 * Behaviour only (where each training started and how many epochs it ran); the time saved is measured
 * by `npm run bench`.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { SeqaeConfig } from '../../src/config/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { sendWindows } from '../support/kafka.js';
import { cleanupRedis, testConfig } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

const settings = (warm: boolean) => ({
  SEQAE_HTTP_PORT: '0',
  SEQAE_ROLES: 'train,stream',
  SEQAE_BACKEND: 'wasm',
  SEQAE_WARMUP_WINDOWS: '64',
  SEQAE_UNITS: '8',
  SEQAE_EPOCHS: '12',
  SEQAE_WARM_START: String(warm),
  SEQAE_WARM_START_EPOCHS: '3',
  SEQAE_EARLY_STOPPING_PATIENCE: '0',
});

describe('fleet start-up', () => {
  let worker: WorkerProcess | undefined;
  let registry: ModelRegistry | undefined;
  afterEach(async () => {
    await worker?.stop();
    await registry?.close();
    worker = registry = undefined;
  });

  async function fleet(config: SeqaeConfig) {
    await cleanupRedis(config);
    registry = new ModelRegistry(createRedis(config), {
      prefix: config.redis.keyPrefix,
      keep: config.worker.modelKeep,
    });
    worker = await WorkerProcess.start(config, pino({ level: 'warn' }, pino.destination(2)));
    const r = registry;
    const published = (id: string) => async () => (await r.get(id))?.meta;
    // The first stream alone, then two more once its model exists.
    await sendWindows(config, sineWindows('pump-1', 80, 9));
    const first = await waitFor('the first model', published('pump-1'), 150_000);
    await sendWindows(config, [...sineWindows('pump-2', 80, 9), ...sineWindows('pump-3', 80, 9)]);
    const next = [
      await waitFor('pump-2 model', published('pump-2'), 150_000),
      await waitFor('pump-3 model', published('pump-3'), 150_000),
    ];
    return { first, next };
  }

  it('starts later models of the same shape from an existing one', async () => {
    const { first, next } = await fleet(testConfig('fleet-warm', settings(true)));
    expect(first.start).toEqual({ from: 'scratch' });
    expect(first.summary?.epochs).toBe(12);
    for (const meta of next) {
      expect(meta.start).toMatchObject({ from: 'warm' });
      expect(meta.summary?.epochs).toBe(3);
    }
  });

  it('trains every model from scratch with SEQAE_WARM_START=false', async () => {
    const { first, next } = await fleet(testConfig('fleet-cold', settings(false)));
    for (const meta of [first, ...next]) {
      expect(meta.start).toEqual({ from: 'scratch' });
      expect(meta.summary?.epochs).toBe(12);
    }
  });
});
