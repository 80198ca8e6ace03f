import { beforeAll, describe, expect, it } from 'vitest';
import { chooseScoring, initBackend, type BackendPreference } from '../../src/backend/index.js';
import {
  OnnxEngine,
  SequenceAutoencoder,
  createInferenceEngine,
  datasetFromSeries,
  exportOnnx,
  type InferenceResult,
  type ModelConfigInput,
} from '../../src/model/index.js';

/** The bar: ONNX Runtime's outputs within 1e-4 (absolute) of tfjs wasm's. */
const TOLERANCE = 1e-4;

/** A small, deterministic generator, so that a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A multivariate series with features on different scales and offsets (normalisation matters). */
function series(length: number, features: number, seed: number): number[][] {
  const r = random(seed);
  return Array.from({ length }, (_, t) =>
    Array.from(
      { length: features },
      (_, f) => (f + 1) * 3 * Math.sin(t / (3 + f) + f) + 10 * f + 0.3 * (r() - 0.5),
    ),
  );
}

/** Random windows around the training data's range, laid out [count, nIn, features]. */
function randomWindows(count: number, nIn: number, features: number, seed: number): Float32Array {
  const r = random(seed);
  return Float32Array.from({ length: count * nIn * features }, (_, i) => {
    const f = i % features;
    return 10 * f + (f + 1) * 4 * (2 * r() - 1);
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
}

/** Every output of `b` within TOLERANCE of `a`'s, and the same outputs present. */
function expectSameOutputs(a: InferenceResult, b: InferenceResult): Record<string, number> {
  expect(b.count).toBe(a.count);
  const diffs: Record<string, number> = {};
  for (const key of ['reconstruction', 'prediction', 'embedding', 'reconstructionError'] as const) {
    expect(b[key] === undefined, key).toBe(a[key] === undefined);
    if (a[key] && b[key]) diffs[key] = maxAbsDiff(a[key], b[key]);
  }
  for (const [key, d] of Object.entries(diffs)) expect(d, key).toBeLessThanOrEqual(TOLERANCE);
  return diffs;
}

const shapes: (ModelConfigInput & { name: string })[] = [
  {
    name: 'composite relu, 3 features, seed target (nOut < nIn)',
    variant: 'composite',
    activation: 'relu',
    features: 3,
    predictionTarget: 'seed',
  },
  {
    name: 'composite tanh, 3 features, next target',
    variant: 'composite',
    activation: 'tanh',
    features: 3,
    predictionTarget: 'next',
  },
  {
    name: 'reconstruction relu, 3 features',
    variant: 'reconstruction',
    activation: 'relu',
    features: 3,
  },
  {
    name: 'reconstruction tanh, 2 features',
    variant: 'reconstruction',
    activation: 'tanh',
    features: 2,
  },
  {
    name: 'prediction relu, 3 features, seed target',
    variant: 'prediction',
    activation: 'relu',
    features: 3,
    predictionTarget: 'seed',
  },
  {
    name: 'prediction tanh, 1 feature, nOut 3',
    variant: 'prediction',
    activation: 'tanh',
    features: 1,
    nOut: 3,
  },
];

describe('ONNX Runtime scoring matches tfjs wasm on the same trained model', () => {
  beforeAll(async () => {
    // tfjs on wasm is the reference; ONNX Runtime is loaded by the engine itself.
    expect((await initBackend('wasm')).name).toBe('wasm');
  });

  for (const [i, { name, ...shape }] of shapes.entries()) {
    it(name, async () => {
      const model = SequenceAutoencoder.create({
        nIn: 8,
        units: 12,
        epochs: 3,
        seed: 5 + i,
        ...shape,
      });
      const { nIn, nOut, features, units } = model.config;
      await model.train(datasetFromSeries(model.config, series(120, features, i)));
      expect(model.trained).toBe(true);
      // 37 windows in passes of 16: the graph's batch dimension takes 16 and the last 5 alike.
      const windows = randomWindows(37, nIn, features, 100 + i);
      const reference = await model.infer(windows, { batchSize: 16 });
      try {
        // Both forms of each LSTM: unrolled step by step (the default here), ONNX's LSTM operator,
        // and both in one graph (the operator for the nIn-step LSTMs, unrolled for shorter ones).
        for (const [form, unrollUpTo] of [
          ['unrolled', undefined],
          ['lstm operator', 0],
          ['mixed', nIn - 1],
        ] as const) {
          const engine = await OnnxEngine.create(model, { threads: 1, unrollUpTo });
          try {
            const onnx = await engine.infer(windows, { batchSize: 16 });
            const diffs = expectSameOutputs(reference, onnx);
            expect(onnx.embedding.length).toBe(37 * units);
            if (onnx.reconstruction) expect(onnx.reconstruction.length).toBe(37 * nIn * features);
            if (onnx.prediction) expect(onnx.prediction.length).toBe(37 * nOut * features);
            console.log(JSON.stringify({ parity: name, lstms: form, ...diffs }));
            // One window alone, through a batch of one.
            const one = windows.subarray(0, nIn * features);
            expectSameOutputs(await model.infer(one), await engine.infer(one));
          } finally {
            engine.dispose();
          }
        }
        // Outputs that are not all (near) zero, so agreement means something.
        expect(maxAbs(reference.embedding)).toBeGreaterThan(1e-3);
        for (const key of ['reconstruction', 'prediction'] as const)
          if (reference[key]) expect(maxAbs(reference[key])).toBeGreaterThan(1e-2);
      } finally {
        model.dispose();
      }
    });
  }

  it('scores from its own copy of the weights: the model can be disposed or trained on', async () => {
    const model = SequenceAutoencoder.create({ nIn: 6, units: 8, epochs: 2, features: 2 });
    await model.train(datasetFromSeries(model.config, series(60, 2, 9)));
    const windows = randomWindows(4, 6, 2, 3);
    const before = await model.infer(windows);
    const engine = await OnnxEngine.create(model, { threads: 1 });
    await model.train(datasetFromSeries(model.config, series(60, 2, 10)));
    const after = await model.infer(windows);
    expect(maxAbsDiff(before.embedding, after.embedding)).toBeGreaterThan(TOLERANCE);
    model.dispose();
    expectSameOutputs(before, await engine.infer(windows));
    engine.dispose();
  });

  it('exports a graph ONNX Runtime reads, with the documented inputs and outputs', async () => {
    const ort = await import('onnxruntime-node');
    for (const variant of ['reconstruction', 'prediction', 'composite'] as const) {
      const model = SequenceAutoencoder.create({ variant, nIn: 5, units: 4, features: 2 });
      const session = await ort.InferenceSession.create(exportOnnx(model));
      const want = {
        reconstruction: ['reconstruction', 'embedding'],
        prediction: ['prediction', 'embedding'],
        composite: ['reconstruction', 'prediction', 'embedding'],
      }[variant];
      expect(session.inputNames).toEqual(['window']);
      expect([...session.outputNames].sort()).toEqual([...want].sort());
      await session.release();
      model.dispose();
    }
  });

  it('off the calling thread: the same outputs, in chunks, for several models and calls at once', async () => {
    const models = await Promise.all(
      [1, 2].map(async (seed) => {
        const m = SequenceAutoencoder.create({ nIn: 6, units: 8, epochs: 1, features: 2 });
        await m.train(datasetFromSeries(m.config, series(50, 2, seed)));
        return m;
      }),
    );
    const windows = randomWindows(7, 6, 2, 5);
    for (const model of models) {
      const here = await OnnxEngine.create(model, { threads: 1 });
      const there = await OnnxEngine.create(model, { threads: 1, offThread: true });
      // Chunks of 3: the thread gets views into one batch; calls overlap on the one thread.
      const [a, b] = await Promise.all([
        there.infer(windows, { batchSize: 3 }),
        there.infer(windows.slice(0, 2 * 6 * 2)),
      ]);
      expectSameOutputs(await here.infer(windows), a);
      expectSameOutputs(await here.infer(windows.slice(0, 2 * 6 * 2)), b);
      there.dispose();
      here.dispose();
    }
    const other = await OnnxEngine.create(models[1]!, { threads: 1, offThread: true });
    expect(
      maxAbsDiff(
        (await other.infer(windows)).embedding,
        (await OnnxEngine.create(models[0]!, { threads: 1 }).then((e) => e.infer(windows)))
          .embedding,
      ),
    ).toBeGreaterThan(TOLERANCE);
    other.dispose();
    for (const m of models) m.dispose();
  });

  it('createInferenceEngine gives the engine asked for, with the same outputs', async () => {
    const model = SequenceAutoencoder.create({ nIn: 6, units: 8, epochs: 1, features: 3 });
    await model.train(datasetFromSeries(model.config, series(40, 3, 4)));
    const windows = randomWindows(3, 6, 3, 8);
    const tfjs = await createInferenceEngine(model);
    const onnx = await createInferenceEngine(model, { kind: 'onnxruntime', threads: 1 });
    expect([tfjs.kind, onnx.kind]).toEqual(['tfjs', 'onnxruntime']);
    expectSameOutputs(await tfjs.infer(windows), await onnx.infer(windows));
    tfjs.dispose();
    onnx.dispose();
    model.dispose();
  });
});

describe('SEQAE_BACKEND: where windows are scored', () => {
  const loads = async () => true as const;
  const fails = async () => 'libonnxruntime.so.1: cannot open shared object file';
  const never = async (): Promise<true> => {
    throw new Error('ONNX Runtime should not be asked about here');
  };
  const decide = (
    p: BackendPreference,
    training: 'tensorflow' | 'wasm' | 'cpu',
    o: () => Promise<true | string> = loads,
  ) => chooseScoring(p, training, o);

  it('auto scores on ONNX Runtime when it loads and tfjs-node is not active', async () => {
    expect(await decide('auto', 'wasm')).toEqual({ scoring: 'onnxruntime' });
    expect(await decide('auto', 'cpu')).toEqual({ scoring: 'onnxruntime' });
    expect(await decide('auto', 'tensorflow', never)).toEqual({
      scoring: 'tensorflow',
      scoringNote: 'tfjs-node is active',
    });
    const fallback = await decide('auto', 'wasm', fails);
    expect(fallback.scoring).toBe('wasm');
    expect(fallback.scoringNote).toMatch(/does not load: libonnxruntime/);
  });

  it('onnx always scores on ONNX Runtime, and fails when it does not load', async () => {
    expect(await decide('onnx', 'tensorflow')).toEqual({ scoring: 'onnxruntime' });
    expect(await decide('onnx', 'wasm')).toEqual({ scoring: 'onnxruntime' });
    await expect(decide('onnx', 'wasm', fails)).rejects.toThrow(/SEQAE_BACKEND=onnx/);
  });

  it('node, wasm and cpu score on tfjs without loading ONNX Runtime', async () => {
    expect(await decide('node', 'tensorflow', never)).toEqual({ scoring: 'tensorflow' });
    expect(await decide('wasm', 'wasm', never)).toEqual({ scoring: 'wasm' });
    expect(await decide('cpu', 'cpu', never)).toEqual({ scoring: 'cpu' });
  });
});
