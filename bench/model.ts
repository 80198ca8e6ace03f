/**
 * Model throughput per (backend, variant, batch size): one JSON line each, keys stable for tools:
 * {"bench":"model","backend","variant","batch","trainSamplesPerSec","inferWindowsPerSec","inferGflops"}.
 * Usage: npm run bench:model -- [--backend wasm,cpu] [--variant composite] [--batch 1,32,256]
 *        [--nIn 9] [--units 100] [--features 1] [--repeats 5]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import {
  SequenceAutoencoder,
  datasetFromSeries,
  modelFlops,
  type Variant,
} from '../src/model/index.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'tensorflow,wasm,cpu' },
    variant: { type: 'string', default: 'reconstruction,prediction,composite' },
    batch: { type: 'string', default: '1,32,256' },
    nIn: { type: 'string', default: '9' },
    units: { type: 'string', default: '100' },
    features: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '5' },
  },
});
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await initBackend('auto').catch(() => undefined);
const repeats = Number(args.repeats);
const shape = { nIn: Number(args.nIn), units: Number(args.units), features: Number(args.features) };

for (const backend of list(args.backend)) {
  if (backend === 'tensorflow') {
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      console.error(`# backend tensorflow unavailable (tfjs-node not installed), skipped`);
      continue;
    }
  }
  if (!(await tf.setBackend(backend).catch(() => false))) {
    console.error(`# backend ${backend} unavailable, skipped`);
    continue;
  }
  for (const variant of list(args.variant) as Variant[]) {
    for (const batch of list(args.batch).map(Number)) {
      const model = SequenceAutoencoder.create({
        ...shape,
        variant,
        batchSize: batch,
        epochs: 1,
        seed: 1,
      });
      const rows = Array.from({ length: Math.max(batch * 2, 64) + shape.nIn + 1 }, (_, t) =>
        Array.from({ length: shape.features }, (_, f) => Math.sin(t / 5 + f)),
      );
      const data = datasetFromSeries(model.config, rows);
      // The CPU backend is two orders slower: fewer samples keep a run within minutes.
      const trainRepeats = backend === 'cpu' ? 1 : repeats;
      const trainTimes: number[] = [];
      await model.train(data); // warm-up: kernels compiled, weights allocated
      for (let r = 0; r < trainRepeats; r++) {
        const t0 = performance.now();
        await model.train(data);
        trainTimes.push((performance.now() - t0) / 1000);
      }
      const windows = data.inputs.subarray(0, batch * shape.nIn * shape.features);
      await model.infer(windows, { batchSize: batch });
      const inferTimes: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        await model.infer(windows, { batchSize: batch });
        inferTimes.push((performance.now() - t0) / 1000);
      }
      const inferWindowsPerSec = batch / median(inferTimes);
      console.log(
        JSON.stringify({
          bench: 'model',
          backend: tf.getBackend(),
          variant,
          batch,
          trainSamplesPerSec: Math.round(data.count / median(trainTimes)),
          inferWindowsPerSec: Math.round(inferWindowsPerSec),
          inferGflops: +((inferWindowsPerSec * modelFlops(model.config)) / 1e9).toFixed(3),
          nIn: shape.nIn,
          units: shape.units,
          features: shape.features,
        }),
      );
      model.dispose();
    }
  }
}
