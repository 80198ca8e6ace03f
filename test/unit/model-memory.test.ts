import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/backend/index.js';
import { SequenceAutoencoder, datasetFromSeries } from '../../src/model/index.js';

/** Peak tensor bytes of one epoch of training on a window of `nIn` steps (same batch and units). */
async function trainingPeakBytes(nIn: number): Promise<number> {
  const model = SequenceAutoencoder.create({
    variant: 'reconstruction',
    nIn,
    units: 16,
    epochs: 1,
    batchSize: 32,
    seed: 1,
  });
  const rows = Array.from({ length: 32 + nIn + 1 }, (_, t) => [Math.sin(t / 5)]);
  const data = datasetFromSeries(model.config, rows);
  try {
    const info = await tf.profile(async () => {
      await model.train(data);
    });
    return info.peakBytes;
  } finally {
    model.dispose();
  }
}

describe('training memory', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  // A slice per encoder step made it grow with nIn² (tfjs keeps each slice's gradient, a pad to the
  // whole sequence, until the step ends): nIn 64 at batch 256 overran wasm's 4 GB heap and crashed.
  it('grows linearly with the window length', async () => {
    const short = await trainingPeakBytes(12);
    const long = await trainingPeakBytes(48);
    // Linear: 4 times the steps, about 4 times the bytes (it was 9 times with the slices).
    expect(long / short).toBeLessThan(5);
  });
});
