import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ValidationError } from '../errors/index.js';
import { encodeArtifact, modelFromArtifact, readArtifact } from './artifact.js';
import { buildAutoencoder, scoringModel, standaloneEncoder } from './build.js';
import {
  hasPrediction,
  hasReconstruction,
  resolveModelConfig,
  shapeKey,
  type ModelConfig,
  type ModelConfigInput,
} from './config.js';
import { forward, forwardWeights, type ForwardWeights } from './forward.js';
import { flattenWindows, type Dataset } from './dataset.js';
import { fitNormalisation, normalise, type Normalisation } from './normalise.js';
import {
  runInference,
  type InferenceResult,
  type InferOptions,
  type WindowBatch,
} from './inference.js';
import { trainModel, type TrainOptions, type TrainingSummary } from './train.js';

export type { InferenceResult, InferOptions, WindowBatch } from './inference.js';

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
  private scoringGraph?: tfl.LayersModel;
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

  /**
   * A model that starts from the weights of `bytes` (a model of the same shape, see shapeKey) with
   * `input`'s training settings. Its normalisation is refitted by its first train(), on its own data.
   */
  static async warmStart(bytes: Uint8Array, input: ModelConfigInput): Promise<SequenceAutoencoder> {
    const donor = await SequenceAutoencoder.load(bytes);
    const config = resolveModelConfig({ ...donor.config, ...input });
    if (shapeKey(config) !== shapeKey(donor.config)) {
      donor.dispose();
      throw new ValidationError(
        `warm start: model of shape ${shapeKey(donor.config)} cannot start ${shapeKey(config)}`,
        'shape_mismatch',
      );
    }
    const m = new SequenceAutoencoder(config, donor.model, donor.normalisation, Date.now());
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
  async infer(windows: WindowBatch, options: InferOptions = {}): Promise<InferenceResult> {
    this.weights ??= forwardWeights(this.model, this.config);
    const { nIn, features } = this.config;
    return runInference(
      this.config,
      this.normalisation,
      windows,
      async (input, n) => {
        const outs = tf.tidy(() =>
          forward(this.weights!, this.config, tf.tensor3d(input, [n, nIn, features])),
        );
        try {
          return await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
        } finally {
          outs.forEach((t) => t.dispose());
        }
      },
      options,
    );
  }

  /** The same outputs through the tfjs-layers graph: the reference the fused pass is tested against. */
  async inferWithLayers(windows: WindowBatch): Promise<Float32Array[]> {
    const { nIn, features } = this.config;
    const { count, data } = flattenWindows(windows, nIn, features);
    this.scoringGraph ??= scoringModel(this.model);
    const outs = tf.tidy(
      () =>
        this.scoringGraph!.predict(
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
    this.scoringGraph = undefined;
    this.encoderModel = undefined;
    this.weights = undefined;
  }
}

/** Row `index` of a [count, steps, features] result as nested arrays (for JSON messages). */
export function toMatrix(
  flat: Float32Array,
  index: number,
  steps: number,
  features: number,
): number[][] {
  // Index loops, not Array.from(subarray): that took 18 µs for a window's two 9×1 matrices, this 0.1.
  const rows: number[][] = new Array<number[]>(steps);
  let k = index * steps * features;
  for (let t = 0; t < steps; t++) {
    const row: number[] = new Array<number>(features);
    for (let f = 0; f < features; f++) row[f] = flat[k++]!;
    rows[t] = row;
  }
  return rows;
}
