/**
 * Model throughput per (backend, variant, batch size): one JSON line each, keys stable for tools:
 * {"bench":"model","backend","variant","batch","trainSamplesPerSec","inferWindowsPerSec","inferGflops"}.
 * Backends: tfjs's `tensorflow` (tfjs-node, when installed), `wasm`, `cpu`, and `onnxruntime`, which
 * scores with ONNX Runtime a model trained on wasm (training stays on tfjs: its lines have
 * trainSamplesPerSec null and "trainedOn":"wasm", plus "vsWasm", the median ratio to wasm's time).
 * wasm and onnxruntime are timed on the same model, alternately, so both see the same machine load.
 * Usage: npm run bench:model -- [--backend tensorflow,onnxruntime,wasm,cpu] [--variant composite]
 *        [--batch 1,32,256] [--nIn 9] [--units 100] [--features 1] [--repeats 5] [--threads 0]
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import {
  OnnxEngine,
  SequenceAutoencoder,
  datasetFromSeries,
  modelFlops,
  type InferenceResult,
  type Variant,
} from '../src/model/index.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'tensorflow,onnxruntime,wasm,cpu' },
    variant: { type: 'string', default: 'reconstruction,prediction,composite' },
    batch: { type: 'string', default: '1,32,256' },
    nIn: { type: 'string', default: '9' },
    units: { type: 'string', default: '100' },
    features: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '5' },
    /** ONNX Runtime's intra-op threads; 0 = one per CPU (the worker's default). */
    threads: { type: 'string', default: '0' },
  },
});
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
/** Phases per engine. */
const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};

await initBackend('wasm').catch(() => undefined);
const repeats = Number(args.repeats);
const threads = Number(args.threads) || availableParallelism();
const shape = { nIn: Number(args.nIn), units: Number(args.units), features: Number(args.features) };
const requested = list(args.backend);
const withOnnx = requested.includes('onnxruntime');
// ONNX Runtime scores models trained on wasm: it runs in wasm's pass (reporting wasm only if asked).
const tfjsBackends = requested.filter((b) => b !== 'onnxruntime');
if (withOnnx && !tfjsBackends.includes('wasm')) tfjsBackends.push('wasm');
const load = () => loadavg().map((x) => +x.toFixed(2));
console.error(
  `# ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, node ${process.version}, load average ${load().join(' ')}`,
);

for (const backend of tfjsBackends) {
  const reportTfjs = requested.includes(backend);
  const onnxHere = withOnnx && backend === 'wasm';
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
      await model.train(data); // warm-up: kernels compiled, weights allocated
      const trainTimes: number[] = [];
      // The CPU backend is two orders slower: fewer samples keep a run within minutes.
      const trainRepeats = !reportTfjs ? 0 : backend === 'cpu' ? 1 : repeats;
      for (let r = 0; r < trainRepeats; r++)
        trainTimes.push(await seconds(() => model.train(data)));

      const windows = data.inputs.subarray(0, batch * shape.nIn * shape.features);
      const engines: { name: string; infer: () => Promise<InferenceResult>; times: number[] }[] =
        [];
      if (reportTfjs)
        engines.push({
          name: backend,
          infer: () => model.infer(windows, { batchSize: batch }),
          times: [],
        });
      const onnx = onnxHere ? await OnnxEngine.create(model, { threads }) : undefined;
      if (onnx)
        engines.push({
          name: 'onnxruntime',
          infer: () => onnx.infer(windows, { batchSize: batch }),
          times: [],
        });
      for (const e of engines) await e.infer(); // warm-up
      // Each engine scores a phase of back-to-back batches, as a worker does, and each batch is a
      // sample; phases alternate between engines (three rounds), so that a burst of load from
      // elsewhere hits all alike. (Timing single batches in strict alternation measures mostly
      // ONNX Runtime's idle threads waking up after the other engine's turn: half its throughput.)
      for (let round = 0; round < ROUNDS; round++)
        for (const e of engines)
          for (let r = 0; r < repeats; r++) e.times.push(await seconds(e.infer));

      const wasm = engines.find((e) => e.name === 'wasm');
      for (const e of engines) {
        const inferWindowsPerSec = batch / median(e.times);
        const isOnnx = e.name === 'onnxruntime';
        console.log(
          JSON.stringify({
            bench: 'model',
            backend: e.name,
            variant,
            batch,
            trainSamplesPerSec: isOnnx ? null : Math.round(data.count / median(trainTimes)),
            inferWindowsPerSec: Math.round(inferWindowsPerSec),
            inferGflops: +((inferWindowsPerSec * modelFlops(model.config)) / 1e9).toFixed(3),
            ...(isOnnx ? { trainedOn: backend, threads } : {}),
            ...(isOnnx && wasm
              ? { vsWasm: +(median(wasm.times) / median(e.times)).toFixed(1) }
              : {}),
            nIn: shape.nIn,
            units: shape.units,
            features: shape.features,
          }),
        );
      }
      onnx?.dispose();
      model.dispose();
    }
  }
}
console.error(`# load average at the end ${load().join(' ')}`);
