import type { SeqaeConfig } from '../../src/config/index.js';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { datasetFromStreams } from '../../src/training/training.js';
import { sineWindows } from './windows.js';

/**
 * Trains a small model `modelId` on clean sine windows (one epoch: scores need not be good) and
 * publishes it in `config`'s registry, so that a stream worker scores at once. Initialise the compute
 * backend first (initBackend).
 */
export async function publishModel(
  config: SeqaeConfig,
  modelId: string,
  nIn: number,
  units: number,
): Promise<void> {
  const model = SequenceAutoencoder.create({ nIn, units, epochs: 1, seed: 1 });
  await model.train(datasetFromStreams(model, sineWindows(modelId, 16, nIn)));
  const redis = createRedis(config);
  const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 2 });
  await registry.publish(modelId, await model.save(), {
    variant: model.config.variant,
    config: { ...model.config },
    streams: [modelId],
    createdAt: Date.now(),
  });
  model.dispose();
  await registry.close();
  redis.disconnect();
}
