import type { SeqaeConfig } from '../../src/config/index.js';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { datasetFromStreams, trainingErrorStats } from '../../src/training/training.js';
import { sineWindows } from './windows.js';

/**
 * Trains a small model `modelId` on clean sine windows (one epoch by default: scores need not be
 * good) and publishes it in `config`'s registry, so that a stream worker scores at once. With
 * `errorStats`, its errors on those windows go with it (what training-z scoring measures against).
 * Initialise the compute backend first (initBackend).
 */
export async function publishModel(
  config: SeqaeConfig,
  modelId: string,
  nIn: number,
  units: number,
  options: { epochs?: number; learningRate?: number; windows?: number; errorStats?: boolean } = {},
): Promise<void> {
  const { epochs = 1, learningRate } = options;
  const model = SequenceAutoencoder.create({ nIn, units, epochs, learningRate, seed: 1 });
  const dataset = datasetFromStreams(model, sineWindows(modelId, options.windows ?? 16, nIn));
  await model.train(dataset);
  const errorStats = options.errorStats ? await trainingErrorStats(model, dataset) : undefined;
  const redis = createRedis(config);
  const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 2 });
  await registry.publish(modelId, await model.save(), {
    variant: model.config.variant,
    config: { ...model.config },
    streams: [modelId],
    createdAt: Date.now(),
    ...(errorStats && { errorStats }),
  });
  model.dispose();
  await registry.close();
  redis.disconnect();
}
