import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { CancelledError } from '../errors/index.js';
import { mulberry32, permutation } from '../util/prng.js';
import { forward, forwardWeights, type ForwardWeights } from './forward.js';
import { hasPrediction, hasReconstruction, type ModelConfig } from './config.js';

/** Each decoder's mean squared error (normalised units) and their sum, the loss that is minimised. */
export interface Losses {
  loss: number;
  reconstruction?: number;
  prediction?: number;
}

export interface EpochProgress extends Losses {
  epoch: number;
  epochs: number;
  /** Losses on the held-out samples, when `validationSplit` > 0. */
  validation?: Losses;
  durationMs: number;
}

export interface TrainOptions {
  /** Overrides the config's epochs for this run. */
  epochs?: number;
  batchSize?: number;
  /** Called after every epoch; may be async (its promise is awaited before the next epoch). */
  onEpoch?: (progress: EpochProgress) => void | Promise<void>;
  /** Aborting stops training after the current batch; `train` then rejects with CancelledError. */
  signal?: AbortSignal;
  /** Stop when the monitored loss has not improved by `minDelta` for `patience` epochs. */
  earlyStopping?: { patience: number; minDelta?: number };
  /** Fraction of samples (the last ones, unshuffled) held out to monitor; default 0. */
  validationSplit?: number;
}

export interface TrainingSummary {
  epochs: number;
  stoppedEarly: boolean;
  samples: number;
  final: Losses;
  best: number;
  validation?: Losses;
  durationMs: number;
  backend: string;
  /** Per-epoch losses, oldest first (for loss curves; absent in models trained before it). */
  history?: TrainingHistory;
}

/**
 * Each epoch's losses as columns: `loss[i]` is epoch i+1's training loss; `validation` when samples
 * were held out. Rounded to 4 significant digits, which a curve needs, to keep artifacts small.
 */
export interface TrainingHistory {
  loss: number[];
  reconstruction?: number[];
  prediction?: number[];
  validation?: { loss: number[]; reconstruction?: number[]; prediction?: number[] };
}

const round4 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(4)) : x);

/** Appends one epoch's losses to `columns`, rounded. */
function record(columns: Partial<Record<keyof Losses, number[]>>, l: Losses): void {
  for (const key of ['loss', 'reconstruction', 'prediction'] as const) {
    const v = l[key];
    if (v !== undefined) (columns[key] ??= []).push(round4(v));
  }
}

/** Training tensors, already normalised: x [n, nIn, f], targets in the model's output order. */
export interface TrainingTensors {
  x: tf.Tensor3D;
  targets: tf.Tensor3D[];
}

/** Longest the training loop holds the event loop between two yields, ms. */
const YIELD_EVERY_MS = 50;

const outputNames = (config: ModelConfig): ('reconstruction' | 'prediction')[] => [
  ...(hasReconstruction(config.variant) ? (['reconstruction'] as const) : []),
  ...(hasPrediction(config.variant) ? (['prediction'] as const) : []),
];

/**
 * Keras' MSE on each output (mean over batch, steps and features), summed over outputs as Keras
 * sums a multi-output model's losses. Computing each output's mean on its own is what avoids
 * tfjs-layers' fit() broadcasting outputs of different lengths ([b,9] + [b,8]) against each other.
 */
function outputLosses(
  weights: ForwardWeights,
  config: ModelConfig,
  x: tf.Tensor3D,
  targets: tf.Tensor[],
) {
  const outs = forward(weights, config, x);
  return targets.map((target, i) => tf.mean(tf.squaredDifference(outs[i]!, target)) as tf.Scalar);
}

function losses(names: ReturnType<typeof outputNames>, values: number[]): Losses {
  const l: Losses = { loss: values.reduce((a, b) => a + b, 0) };
  names.forEach((n, i) => (l[n] = values[i]));
  return l;
}

function evaluate(weights: ForwardWeights, config: ModelConfig, data: TrainingTensors): Losses {
  const values = tf.tidy(() =>
    tf.stack(outputLosses(weights, config, data.x, data.targets)).dataSync(),
  );
  return losses(outputNames(config), Array.from(values));
}

/** One Adam step on the minibatch `idx`; its per-output losses, the only tensor it leaves. */
function trainStep(
  optimizer: tf.Optimizer,
  weights: ReturnType<typeof forwardWeights>,
  config: ModelConfig,
  data: TrainingTensors,
  idx: Uint32Array,
): tf.Tensor {
  return tf.tidy(() => {
    const indices = tf.tensor1d(Int32Array.from(idx), 'int32');
    const xb = tf.gather(data.x, indices);
    const yb = data.targets.map((t) => tf.gather(t, indices));
    let parts: tf.Scalar[] = [];
    optimizer.minimize(() => {
      parts = outputLosses(weights, config, xb as tf.Tensor3D, yb);
      parts.forEach((p) => tf.keep(p));
      return tf.addN(parts) as tf.Scalar;
    });
    const values = tf.stack(parts);
    parts.forEach((p) => p.dispose());
    return values;
  });
}

/**
 * Trains with seqae's own step (Adam, minibatches shuffled from `config.seed`) rather than
 * LayersModel.fit: it gives per-output losses, cancellation between batches and no tensor left
 * behind. Gradients flow through the fused forward pass (forward.ts) into the layers' own variables.
 */
export async function trainModel(
  model: tfl.LayersModel,
  config: ModelConfig,
  data: TrainingTensors,
  options: TrainOptions = {},
): Promise<TrainingSummary> {
  const started = performance.now();
  const epochs = options.epochs ?? config.epochs;
  const batchSize = options.batchSize ?? config.batchSize;
  const names = outputNames(config);
  const n = data.x.shape[0];
  const nVal = Math.min(n - 1, Math.floor(n * (options.validationSplit ?? 0)));
  const nTrain = n - nVal;
  const random = mulberry32(config.seed);
  const weights = forwardWeights(model, config);
  const optimizer = tf.train.adam(config.learningRate, 0.9, 0.999, 1e-7);
  const validation: TrainingTensors | undefined =
    nVal > 0
      ? {
          x: tf.slice(data.x, [nTrain, 0, 0]),
          targets: data.targets.map((t) => tf.slice(t, [nTrain, 0, 0])),
        }
      : undefined;

  let best = Infinity;
  let sinceBest = 0;
  let stoppedEarly = false;
  let epoch = 0;
  let last: Losses = { loss: NaN };
  let lastYield = performance.now();
  let lastValidation: Losses | undefined;
  const history: TrainingHistory = { loss: [] };
  try {
    while (epoch < epochs) {
      const t0 = performance.now();
      const order = permutation(nTrain, random);
      const sums = new Float64Array(names.length);
      for (let start = 0; start < nTrain; start += batchSize) {
        // Let signals, IPC and timers through between batches (not only between epochs): a long epoch
        // must not delay a cancellation, a SIGTERM or the end of an orphaned training child.
        if (performance.now() - lastYield > YIELD_EVERY_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
        if (options.signal?.aborted) throw new CancelledError('training cancelled');
        const idx = order.subarray(start, Math.min(nTrain, start + batchSize));
        const batchLosses = trainStep(optimizer, weights, config, data, idx);
        const values = await batchLosses.data();
        batchLosses.dispose();
        values.forEach((v, i) => (sums[i]! += v * idx.length));
      }
      epoch++;
      last = losses(
        names,
        Array.from(sums, (s) => s / nTrain),
      );
      lastValidation = validation ? evaluate(weights, config, validation) : undefined;
      record(history, last);
      if (lastValidation) record((history.validation ??= { loss: [] }), lastValidation);
      await options.onEpoch?.({
        ...last,
        epoch,
        epochs,
        validation: lastValidation,
        durationMs: performance.now() - t0,
      });
      const monitored = lastValidation?.loss ?? last.loss;
      if (monitored < best - (options.earlyStopping?.minDelta ?? 0)) {
        best = monitored;
        sinceBest = 0;
      } else if (options.earlyStopping && ++sinceBest >= options.earlyStopping.patience) {
        stoppedEarly = true;
        break;
      }
      // Let timers, I/O and abort signals through between epochs.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    optimizer.dispose();
    validation?.x.dispose();
    validation?.targets.forEach((t) => t.dispose());
  }
  return {
    epochs: epoch,
    stoppedEarly,
    samples: nTrain,
    final: last,
    best: Math.min(best, last.loss),
    validation: lastValidation,
    durationMs: performance.now() - started,
    backend: tf.getBackend(),
    history,
  };
}
