import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { encodeArtifact, modelFromArtifact, readArtifact } from './artifact.js';
import { buildAutoencoder, scoringModel, standaloneEncoder } from './build.js';
import {
  hasPrediction,
  hasReconstruction,
  resolveModelConfig,
  type ModelConfig,
  type ModelConfigInput,
} from './config.js';
import { forward, forwardWeights, type ForwardWeights } from './forward.js';
import { flattenWindows, type Dataset } from './dataset.js';
import {
  denormaliseInPlace,
  fitNormalisation,
  normalise,
  type Normalisation,
} from './normalise.js';
import { trainModel, type TrainOptions, type TrainingSummary } from './train.js';

/** Outputs for a batch of `count` windows, row-major typed arrays in the data's own units. */
export interface InferenceResult {
  count: number;
  /** [count, nIn, features]; absent for the prediction variant. */
  reconstruction?: Float32Array;
  /** [count, nOut, features]; absent for the reconstruction variant. */
  prediction?: Float32Array;
  /** [count, units]: the encoder vector of each window. */
  embedding: Float32Array;
  /** Per window, the mean squared reconstruction error in normalised units (scale-free). */
  reconstructionError?: Float32Array;
}

export type WindowBatch = ArrayLike<ArrayLike<ArrayLike<number>>> | Float32Array;

/**
 * One of the seed's LSTM autoencoders with the normalisation fitted on its training data: train it,
 * score batches of windows, cut its standalone encoder, save it as an artifact and load it back.
 * Owns tfjs tensors: call dispose() when done.
 */
export class SequenceAutoencoder {
  readonly config: ModelConfig;
  readonly model: tfl.LayersModel;
  normalisation: Normalisation;
  summary?: TrainingSummary;
  createdAt: number;
  private scorer?: tfl.LayersModel;
  private encoderModel?: tfl.LayersModel;
  private weights?: ForwardWeights;

  private constructor(
    config: ModelConfig,
    model: tfl.LayersModel,
    normalisation: Normalisation,
    createdAt: number,
  ) {
    this.config = config;
    this.model = model;
    this.normalisation = normalisation;
    this.createdAt = createdAt;
  }

  /** A new, untrained model; `input` takes the documented defaults of ModelConfig. */
  static create(input: ModelConfigInput = {}): SequenceAutoencoder {
    const config = resolveModelConfig(input);
    const identity = fitNormalisation('none', [], config.features);
    return new SequenceAutoencoder(config, buildAutoencoder(config), identity, Date.now());
  }

  /** Loads an artifact made by save(); throws ArtifactError on a bad one. */
  static async load(bytes: Uint8Array): Promise<SequenceAutoencoder> {
    const { header, weights } = readArtifact(bytes);
    const config = resolveModelConfig(header.config);
    const model = await modelFromArtifact(header, weights);
    const m = new SequenceAutoencoder(config, model, header.normalisation, header.createdAt);
    m.summary = header.summary;
    return m;
  }

  get trained(): boolean {
    return this.summary !== undefined;
  }

  /**
   * Trains on `data` (raw values). The first training fits the normalisation; later ones keep it so
   * that a model fine-tuned on new data stays comparable with its earlier scores.
   */
  async train(data: Dataset, options: TrainOptions = {}): Promise<TrainingSummary> {
    const { nIn, nOut, features } = this.config;
    if (!this.trained)
      this.normalisation = fitNormalisation(this.config.normalisation, data.inputs, features);
    const x = tf.tensor3d(normalise(this.normalisation, data.inputs), [data.count, nIn, features]);
    const targets: tf.Tensor3D[] = [];
    if (hasReconstruction(this.config.variant)) targets.push(x);
    if (hasPrediction(this.config.variant)) {
      if (!data.predictionTargets)
        throw new Error('dataset has no prediction targets for a model with a prediction decoder');
      targets.push(
        tf.tensor3d(normalise(this.normalisation, data.predictionTargets), [
          data.count,
          nOut,
          features,
        ]),
      );
    }
    try {
      this.summary = await trainModel(this.model, this.config, { x, targets }, options);
    } finally {
      x.dispose();
      targets.forEach((t) => t.dispose());
    }
    this.createdAt = Date.now();
    return this.summary;
  }

  /**
   * Reconstruction, prediction and encoder vector of every window in one pass, computed by the fused
   * forward pass (forward.ts) in chunks of `batchSize` windows (default 256).
   */
  async infer(
    windows: WindowBatch,
    options: { batchSize?: number } = {},
  ): Promise<InferenceResult> {
    const { nIn, nOut, features, units } = this.config;
    const { count, data } = flattenWindows(windows, nIn, features);
    const result: InferenceResult = { count, embedding: new Float32Array(count * units) };
    if (count === 0) return result;
    const input = normalise(this.normalisation, data);
    const rec = hasReconstruction(this.config.variant)
      ? new Float32Array(count * nIn * features)
      : undefined;
    const pred = hasPrediction(this.config.variant)
      ? new Float32Array(count * nOut * features)
      : undefined;
    this.weights ??= forwardWeights(this.model, this.config);
    const chunk = Math.max(1, options.batchSize ?? 256);
    for (let start = 0; start < count; start += chunk) {
      const n = Math.min(chunk, count - start);
      const outs = tf.tidy(() => {
        const x = tf.tensor3d(
          input.subarray(start * nIn * features, (start + n) * nIn * features),
          [n, nIn, features],
        );
        return forward(this.weights!, this.config, x);
      });
      try {
        const values = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
        let k = 0;
        if (rec) rec.set(values[k++]!, start * nIn * features);
        if (pred) pred.set(values[k++]!, start * nOut * features);
        result.embedding.set(values[k]!, start * units);
      } finally {
        outs.forEach((t) => t.dispose());
      }
    }
    if (rec) {
      result.reconstructionError = meanSquaredErrors(input, rec, count);
      result.reconstruction = denormaliseInPlace(this.normalisation, rec);
    }
    if (pred) result.prediction = denormaliseInPlace(this.normalisation, pred);
    return result;
  }

  /** The same outputs through the tfjs-layers graph: the reference the fused pass is tested against. */
  async inferWithLayers(windows: WindowBatch): Promise<Float32Array[]> {
    const { nIn, features } = this.config;
    const { count, data } = flattenWindows(windows, nIn, features);
    this.scorer ??= scoringModel(this.model);
    const outs = tf.tidy(
      () =>
        this.scorer!.predict(
          tf.tensor3d(normalise(this.normalisation, data), [count, nIn, features]),
        ) as tf.Tensor[],
    );
    try {
      return await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    } finally {
      outs.forEach((t) => t.dispose());
    }
  }

  /** The encoder vectors alone: [count, units]. */
  async encode(windows: WindowBatch): Promise<Float32Array> {
    const { nIn, features } = this.config;
    const { count, data } = flattenWindows(windows, nIn, features);
    const enc = this.encoder();
    const out = tf.tidy(
      () =>
        enc.predict(
          tf.tensor3d(normalise(this.normalisation, data), [count, nIn, features]),
        ) as tf.Tensor,
    );
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  }

  /** The standalone encoder (shares this model's weights): input window, output the encoder vector. */
  encoder(): tfl.LayersModel {
    this.encoderModel ??= standaloneEncoder(this.model);
    return this.encoderModel;
  }

  /** The artifact bytes (see artifact.ts for the format). */
  save(): Promise<Uint8Array> {
    return encodeArtifact(this.model, {
      config: this.config,
      normalisation: this.normalisation,
      summary: this.summary,
      createdAt: this.createdAt,
    });
  }

  /** Frees the weights; the object is unusable afterwards. */
  dispose(): void {
    // The scoring and encoder graphs are views over the model's layers (they hold no tensors), so
    // disposing the model frees everything; disposing them too would dispose the layers twice.
    this.model.dispose();
    this.scorer = undefined;
    this.encoderModel = undefined;
    this.weights = undefined;
  }
}

function meanSquaredErrors(a: Float32Array, b: Float32Array, count: number): Float32Array {
  const per = a.length / count;
  const out = new Float32Array(count);
  for (let w = 0; w < count; w++) {
    let s = 0;
    for (let i = w * per; i < (w + 1) * per; i++) s += (a[i]! - b[i]!) ** 2;
    out[w] = s / per;
  }
  return out;
}

/** Row `index` of a [count, steps, features] result as nested arrays (for JSON messages). */
export function toMatrix(
  flat: Float32Array,
  index: number,
  steps: number,
  features: number,
): number[][] {
  const rows: number[][] = [];
  const base = index * steps * features;
  for (let t = 0; t < steps; t++)
    rows.push(Array.from(flat.subarray(base + t * features, base + (t + 1) * features)));
  return rows;
}
