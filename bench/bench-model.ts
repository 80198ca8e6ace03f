/**
 * The model every scoring figure uses: the workers' default stream model (composite, 100 units) on
 * windows of 9 readings of one feature, trained briefly on a sine (how well it fits does not change
 * how fast it scores), and published to a registry under as many model ids as a section needs.
 */
import { initBackend } from '../src/backend/index.js';
import type { SeqaeConfig } from '../src/config/index.js';
import { SequenceAutoencoder } from '../src/model/index.js';
import { ModelRegistry, type ModelMeta } from '../src/model-registry/index.js';
import { createRedis } from '../src/transport/redis.js';
import { datasetFromStreams, trainingErrorStats } from '../src/training/training.js';
import { sineWindows } from '../test/support/windows.js';

export const WINDOW = 9;

export interface BenchModel {
  model: SequenceAutoencoder;
  artifact: Uint8Array;
  meta: Omit<ModelMeta, 'version' | 'modelId' | 'artifactSha256'>;
}

export async function trainBenchModel(units: number): Promise<BenchModel> {
  await initBackend('auto');
  const model = SequenceAutoencoder.create({ nIn: WINDOW, units, epochs: 2, seed: 1 });
  const data = datasetFromStreams(model, sineWindows('bench', 256, WINDOW));
  const summary = await model.train(data);
  return {
    model,
    artifact: await model.save(),
    meta: {
      variant: model.config.variant,
      config: { ...model.config },
      summary,
      streams: [],
      errorStats: await trainingErrorStats(model, data),
      createdAt: Date.now(),
    },
  };
}

/** Publishes `m` as the first version of each of `modelIds`. */
export async function publishModels(
  config: SeqaeConfig,
  m: BenchModel,
  modelIds: readonly string[],
): Promise<void> {
  const redis = createRedis(config, { name: 'seqae-bench' });
  const registry = new ModelRegistry(redis, {
    prefix: config.redis.keyPrefix,
    keep: config.worker.modelKeep,
  });
  try {
    for (const id of modelIds) await registry.publish(id, m.artifact, m.meta);
  } finally {
    redis.disconnect();
  }
}
