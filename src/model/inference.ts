import { hasPrediction, hasReconstruction, type ModelConfig } from './config.js';
import { flattenWindows } from './dataset.js';
import { denormaliseInPlace, normalise, type Normalisation } from './normalise.js';

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
  /**
   * [count, features]: per window, each feature's mean squared reconstruction error over the
   * window's rows in normalised units; a window's `reconstructionError` is the mean of its row here.
   */
  featureErrors?: Float32Array;
}

export type WindowBatch = ArrayLike<ArrayLike<ArrayLike<number>>> | Float32Array;

export interface InferOptions {
  /** Windows per forward pass. Default 256. */
  batchSize?: number;
}

/** Which runtime runs the forward pass: tfjs (the model itself, on the active tfjs backend) or ONNX Runtime. */
export type EngineKind = 'tfjs' | 'onnxruntime';

/** Runs the forward pass of one model version over windows: what the worker scores windows with. */
export interface InferenceEngine {
  readonly kind: EngineKind;
  infer(windows: WindowBatch, options?: InferOptions): Promise<InferenceResult>;
  /** Frees what the engine holds beyond the model (the model itself is disposed by its owner). */
  dispose(): void;
}

/**
 * One forward pass over `n` normalised windows laid out [n, nIn, features]: each decoder's output in
 * model order (reconstruction, then prediction, as the variant has them), then the encoder vector.
 */
export type ForwardPass = (input: Float32Array, n: number) => Promise<Float32Array[]>;

/**
 * Everything around the forward pass that every engine shares, so that tfjs and ONNX Runtime give the
 * same results in the same units: flattening and normalising the windows, chunking, the per-window
 * reconstruction error (normalised units) and denormalising the outputs.
 */
export async function runInference(
  config: ModelConfig,
  normalisation: Normalisation,
  windows: WindowBatch,
  pass: ForwardPass,
  options: InferOptions = {},
): Promise<InferenceResult> {
  const { nIn, nOut, features, units } = config;
  const { count, data } = flattenWindows(windows, nIn, features);
  const result: InferenceResult = { count, embedding: new Float32Array(count * units) };
  if (count === 0) return result;
  const input = normalise(normalisation, data);
  const rec = hasReconstruction(config.variant)
    ? new Float32Array(count * nIn * features)
    : undefined;
  const pred = hasPrediction(config.variant)
    ? new Float32Array(count * nOut * features)
    : undefined;
  const chunk = Math.max(1, options.batchSize ?? 256);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const values = await pass(
      input.subarray(start * nIn * features, (start + n) * nIn * features),
      n,
    );
    let k = 0;
    if (rec) rec.set(values[k++]!, start * nIn * features);
    if (pred) pred.set(values[k++]!, start * nOut * features);
    result.embedding.set(values[k]!, start * units);
  }
  if (rec) {
    const errors = meanSquaredErrors(input, rec, count, features);
    result.reconstructionError = errors.total;
    result.featureErrors = errors.perFeature;
    result.reconstruction = denormaliseInPlace(normalisation, rec);
  }
  if (pred) result.prediction = denormaliseInPlace(normalisation, pred);
  return result;
}

/** Per window, the mean squared error of each feature over its rows, and their mean over features. */
export function meanSquaredErrors(
  a: Float32Array,
  b: Float32Array,
  count: number,
  features: number,
): { total: Float32Array; perFeature: Float32Array } {
  const rows = a.length / count / features;
  const total = new Float32Array(count);
  // One pass, as before: a feature's share costs an add into its own sum (the worker's hot loop).
  const perFeature = new Float32Array(count * features);
  const sums = new Float64Array(features);
  let i = 0;
  for (let w = 0; w < count; w++) {
    sums.fill(0);
    for (let t = 0; t < rows; t++)
      for (let f = 0; f < features; f++, i++) sums[f] = sums[f]! + (a[i]! - b[i]!) ** 2;
    let s = 0;
    for (let f = 0; f < features; f++) {
      perFeature[w * features + f] = sums[f]! / rows;
      s += sums[f]!;
    }
    total[w] = s / (rows * features);
  }
  return { total, perFeature };
}
