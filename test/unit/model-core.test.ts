import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { ArtifactError, CancelledError, ValidationError } from '../../src/errors/index.js';
import { buildAutoencoder } from '../../src/model/build.js';
import {
  SequenceAutoencoder,
  datasetFromSeries,
  datasetFromWindows,
  resolveModelConfig,
  toMatrix,
  type EpochProgress,
} from '../../src/model/index.js';

/** Three features: phase-shifted sines of different scales, so normalisation matters. */
function series(rows: number, features = 3): number[][] {
  return Array.from({ length: rows }, (_, t) =>
    Array.from(
      { length: features },
      (_, f) => (f + 1) * 10 * Math.sin((2 * Math.PI * t) / 12 + f) + f * 5,
    ),
  );
}

const small = { nIn: 8, units: 16, features: 3, epochs: 4, batchSize: 16, seed: 7 } as const;

describe('model core', () => {
  beforeAll(async () => {
    await initBackend((process.env.SEQAE_BACKEND as 'auto') ?? 'auto');
  });

  it('trains a 3-feature composite model with the next-step target and reports per-output losses', async () => {
    const model = SequenceAutoencoder.create({ ...small, epochs: 30 });
    expect(model.config.nOut).toBe(8);
    const data = datasetFromSeries(model.config, series(80));
    expect(data.count).toBe(80 - 9 + 1);
    const seen: EpochProgress[] = [];
    const summary = await model.train(data, { onEpoch: (p) => void seen.push(p) });
    expect(seen.map((p) => p.epoch)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const p of seen) {
      expect(p.loss).toBeCloseTo(p.reconstruction! + p.prediction!, 6);
      expect(Number.isFinite(p.loss)).toBe(true);
    }
    expect(seen.at(-1)!.loss).toBeLessThan(seen[0]!.loss / 2);
    expect(summary.epochs).toBe(30);
    expect(summary.final.loss).toBe(seen.at(-1)!.loss);
    // The per-epoch history (for loss curves) follows the epochs, each output its own column.
    const h = summary.history!;
    expect(h.loss.length).toBe(30);
    expect(h.reconstruction!.length).toBe(30);
    expect(h.prediction!.length).toBe(30);
    h.loss.forEach((l, i) => expect(l).toBeCloseTo(seen[i]!.loss, 3));
    expect(h.validation).toBeUndefined();
    expect(model.normalisation.kind).toBe('zscore');
    expect(model.normalisation.scale[2]).toBeGreaterThan(model.normalisation.scale[0]!);

    const windows = [series(8), series(12).slice(4)];
    const out = await model.infer(windows);
    expect(out.count).toBe(2);
    expect(out.reconstruction!.length).toBe(2 * 8 * 3);
    expect(out.prediction!.length).toBe(2 * 8 * 3);
    expect(out.embedding.length).toBe(2 * 16);
    expect(out.reconstructionError!.length).toBe(2);

    // The fused scoring pass computes what the tfjs-layers graph computes.
    const [rec, pred, emb] = await model.inferWithLayers(windows);
    const { normalise } = await import('../../src/model/normalise.js');
    const close = (a: Float32Array, b: Float32Array) =>
      a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    expect(close(normalise(model.normalisation, out.reconstruction!), rec!)).toBeLessThan(1e-4);
    expect(close(normalise(model.normalisation, out.prediction!), pred!)).toBeLessThan(1e-4);
    expect(close(out.embedding, emb!)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('round-trips through its artifact and predicts identically', async () => {
    const model = SequenceAutoencoder.create(small);
    await model.train(datasetFromSeries(model.config, series(40)));
    const bytes = await model.save();
    const loaded = await SequenceAutoencoder.load(bytes);
    expect(loaded.config).toEqual(model.config);
    expect(loaded.normalisation).toEqual(model.normalisation);
    expect(loaded.summary!.epochs).toBe(4);
    expect(loaded.summary!.history!.loss.length).toBe(4);
    const windows = [series(8), series(9).slice(1)];
    const [a, b] = await Promise.all([model.infer(windows), loaded.infer(windows)]);
    expect(Array.from(b.reconstruction!)).toEqual(Array.from(a.reconstruction!));
    expect(Array.from(b.prediction!)).toEqual(Array.from(a.prediction!));
    expect(Array.from(b.embedding)).toEqual(Array.from(a.embedding));
    model.dispose();
    loaded.dispose();
  });

  it('rejects truncated, corrupt and foreign artifacts with an ArtifactError', async () => {
    const model = SequenceAutoencoder.create(small);
    const bytes = await model.save();
    model.dispose();
    const before = tf.memory().numTensors;
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 3]! ^= 0xff;
    const header = Uint8Array.from(bytes);
    header[20] = 0x00;
    const cases: [Uint8Array, RegExp][] = [
      [bytes.subarray(0, bytes.length - 10), /truncated/],
      [bytes.subarray(0, 30), /truncated/],
      [flipped, /digest/],
      [header, /header/],
      [Buffer.from('{"not":"a model"}'), /magic/],
      [new Uint8Array(0), /magic/],
    ];
    for (const [bad, reason] of cases) {
      await expect(SequenceAutoencoder.load(bad)).rejects.toThrow(ArtifactError);
      await expect(SequenceAutoencoder.load(bad)).rejects.toThrow(reason);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaks no tensors across repeated train, infer, encode, save and load', async () => {
    const data = series(30);
    // One warm-up round so that tfjs' lazily created singletons are not counted as leaks.
    const warm = SequenceAutoencoder.create({ ...small, epochs: 1 });
    await warm.train(datasetFromSeries(warm.config, data));
    await warm.infer([data.slice(0, 8)]);
    warm.dispose();
    const start = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      const model = SequenceAutoencoder.create({ ...small, epochs: 2 });
      await model.train(datasetFromSeries(model.config, data), { validationSplit: 0.2 });
      await model.infer([data.slice(0, 8), data.slice(1, 9)]);
      await model.encode([data.slice(0, 8)]);
      const loaded = await SequenceAutoencoder.load(await model.save());
      await loaded.infer([data.slice(0, 8)]);
      loaded.dispose();
      model.dispose();
      expect(tf.memory().numTensors).toBe(start);
    }
  });

  it('stops early when the loss stops improving, and cancels on abort', async () => {
    const model = SequenceAutoencoder.create({ ...small, epochs: 200, learningRate: 1e-9 });
    const data = datasetFromSeries(model.config, series(40));
    const summary = await model.train(data, { earlyStopping: { patience: 3, minDelta: 1e-3 } });
    expect(summary.stoppedEarly).toBe(true);
    expect(summary.epochs).toBeLessThan(10);
    expect(summary.history!.loss.length).toBe(summary.epochs);

    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const run = model.train(data, {
      onEpoch: (p) => {
        if (p.epoch === 2) controller.abort();
      },
      signal: controller.signal,
    });
    await expect(run).rejects.toThrow(CancelledError);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("avoids tfjs-layers fit's broadcast trap on outputs of different lengths (9 vs 8 steps)", async () => {
    const config = resolveModelConfig({ ...small, nIn: 9, predictionTarget: 'seed', epochs: 2 });
    expect(config.nOut).toBe(8);
    // The trap itself: LayersModel.fit adds the per-step losses of both outputs before reducing.
    const plain = buildAutoencoder(config);
    plain.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    const x = tf.randomUniform([4, 9, 3]);
    const y = tf.randomUniform([4, 8, 3]);
    await expect(plain.fit(x, [x, y], { epochs: 1, verbose: 0 })).rejects.toThrow(/broadcast/);
    tf.dispose([x, y]);
    plain.dispose();
    // seqae's own step reduces each output to one value and trains the same model.
    const model = SequenceAutoencoder.create({
      ...small,
      nIn: 9,
      predictionTarget: 'seed',
      epochs: 2,
    });
    const summary = await model.train(datasetFromSeries(model.config, series(30)));
    expect(Number.isFinite(summary.final.prediction!)).toBe(true);
    expect(Number.isFinite(summary.final.reconstruction!)).toBe(true);
    model.dispose();
  });

  it('gives the same weights for the same seed and different ones for another seed', () => {
    const weights = (seed: number) => {
      const m = buildAutoencoder(resolveModelConfig({ ...small, seed }));
      const w = m.getWeights().map((t) => Array.from(t.dataSync()));
      m.dispose();
      return w;
    };
    expect(weights(3)).toEqual(weights(3));
    expect(weights(3)).not.toEqual(weights(4));
    expect(tfl).toBeDefined();
  });
});

describe('datasets and config', () => {
  it('takes one window of a flat [count, steps, features] result as rows of features', () => {
    // 2 windows × 3 steps × 2 features: 0..11.
    const flat = Float32Array.from({ length: 12 }, (_, i) => i + 0.5);
    expect(toMatrix(flat, 1, 3, 2)).toEqual([
      [6.5, 7.5],
      [8.5, 9.5],
      [10.5, 11.5],
    ]);
    expect(toMatrix(flat, 0, 1, 6)).toEqual([[0.5, 1.5, 2.5, 3.5, 4.5, 5.5]]);
    expect(Array.isArray(toMatrix(flat, 0, 3, 2)[0])).toBe(true); // plain arrays, for JSON
  });

  it('builds next-step targets whose last row is the reading after the window', () => {
    const config = resolveModelConfig({ nIn: 3, features: 1 });
    const d = datasetFromSeries(config, [[1], [2], [3], [4], [5]]);
    expect(d.count).toBe(2);
    expect(Array.from(d.inputs)).toEqual([1, 2, 3, 2, 3, 4]);
    expect(Array.from(d.predictionTargets!)).toEqual([2, 3, 4, 3, 4, 5]);
    const seed = resolveModelConfig({ nIn: 3, features: 1, predictionTarget: 'seed' });
    const s = datasetFromSeries(seed, [[1], [2], [3], [4]]);
    expect(s.count).toBe(2);
    expect(Array.from(s.predictionTargets!)).toEqual([2, 3, 3, 4]);
  });

  it('pairs stream windows with their successor by seq and leaves out the last', () => {
    const config = resolveModelConfig({ nIn: 3, features: 1, nOut: 2 });
    const w = (seq: number) => ({ seq, values: [[seq - 2], [seq - 1], [seq]] });
    const d = datasetFromWindows(config, [w(2), w(3), w(4), w(9)]);
    expect(d.count).toBe(2);
    expect(Array.from(d.predictionTargets!)).toEqual([2, 3, 3, 4]);
    const recon = resolveModelConfig({ nIn: 3, features: 1, variant: 'reconstruction' });
    expect(datasetFromWindows(recon, [w(2), w(9)]).count).toBe(2);
  });

  it('rejects bad config and bad rows with a ValidationError naming the problem', () => {
    expect(() => resolveModelConfig({ nIn: 1 })).toThrow(/nIn/);
    expect(() => resolveModelConfig({ nIn: 4, nOut: 5 })).toThrow(/nOut/);
    expect(() => resolveModelConfig({ nIn: 4, nOut: 4, predictionTarget: 'seed' })).toThrow(
      ValidationError,
    );
    const config = resolveModelConfig({ nIn: 2, features: 2 });
    expect(() => datasetFromSeries(config, [[1, 2], [3], [4, 5]])).toThrow(/row 1/);
    expect(() =>
      datasetFromSeries(config, [
        [1, 2],
        [NaN, 1],
        [4, 5],
      ]),
    ).toThrow(/non-finite/);
  });
});
