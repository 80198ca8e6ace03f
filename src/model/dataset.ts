import { ValidationError } from '../errors/index.js';
import { hasPrediction, type ModelConfig } from './config.js';

/**
 * Training samples, raw (not normalised), row-major: `inputs` is [count, nIn, features] and
 * `predictionTargets` [count, nOut, features] when the model has a prediction decoder.
 */
export interface Dataset {
  count: number;
  inputs: Float32Array;
  predictionTargets?: Float32Array;
}

type Rows = ArrayLike<ArrayLike<number>>;

function rowsToFlat(rows: Rows, features: number, what: string): Float32Array {
  const out = new Float32Array(rows.length * features);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    if (row.length !== features) {
      throw new ValidationError(
        `${what}: row ${r} has ${row.length} values, expected ${features}`,
        'shape',
      );
    }
    for (let f = 0; f < features; f++) {
      const v = row[f]!;
      if (!Number.isFinite(v))
        throw new ValidationError(`${what}: row ${r} has a non-finite value`, 'non_finite');
      out[r * features + f] = v;
    }
  }
  return out;
}

/** The seed target: the input's own steps 2..nOut+1. */
function seedTargets(config: ModelConfig, inputs: Float32Array, count: number): Float32Array {
  const { nIn, nOut, features } = config;
  const out = new Float32Array(count * nOut * features);
  for (let s = 0; s < count; s++) {
    out.set(
      inputs.subarray((s * nIn + 1) * features, (s * nIn + 1 + nOut) * features),
      s * nOut * features,
    );
  }
  return out;
}

/**
 * Sliding windows over one contiguous series of readings (rows of `features` values). With target
 * `next` each window needs the reading after it, so the last window ends one row before the series.
 */
export function datasetFromSeries(config: ModelConfig, series: Rows, stride = 1): Dataset {
  const { nIn, nOut, features } = config;
  const flat = rowsToFlat(series, features, 'series');
  const rows = series.length;
  const needsNext = hasPrediction(config.variant) && config.predictionTarget === 'next';
  const span = needsNext ? nIn + 1 : nIn;
  const count = rows >= span ? Math.floor((rows - span) / stride) + 1 : 0;
  if (count === 0)
    throw new ValidationError(`series of ${rows} rows is shorter than ${span}`, 'too_short');
  const inputs = new Float32Array(count * nIn * features);
  for (let s = 0; s < count; s++) {
    const start = s * stride;
    inputs.set(flat.subarray(start * features, (start + nIn) * features), s * nIn * features);
  }
  let predictionTargets: Float32Array | undefined;
  if (hasPrediction(config.variant)) {
    if (needsNext) {
      predictionTargets = new Float32Array(count * nOut * features);
      for (let s = 0; s < count; s++) {
        const first = s * stride + 1 + nIn - nOut; // the last nOut rows of the shifted window
        predictionTargets.set(
          flat.subarray(first * features, (first + nOut) * features),
          s * nOut * features,
        );
      }
    } else {
      predictionTargets = seedTargets(config, inputs, count);
    }
  }
  return { count, inputs, predictionTargets };
}

/**
 * Samples from windows of a stream identified by `seq` (the index of their last reading). With target
 * `next`, a window's target needs the following reading, taken from the window whose seq is one more;
 * windows without it are left out (they still get scored, they just do not teach the predictor).
 */
export function datasetFromWindows(
  config: ModelConfig,
  windows: readonly { seq: number; values: Rows }[],
): Dataset {
  const { nIn, nOut, features } = config;
  const needsNext = hasPrediction(config.variant) && config.predictionTarget === 'next';
  const bySeq = new Map(windows.map((w) => [w.seq, w]));
  const usable = needsNext ? windows.filter((w) => bySeq.has(w.seq + 1)) : windows;
  if (usable.length === 0) throw new ValidationError('no usable training windows', 'too_short');
  const inputs = new Float32Array(usable.length * nIn * features);
  usable.forEach((w, s) => {
    if (w.values.length !== nIn) {
      throw new ValidationError(
        `window ${w.seq} has ${w.values.length} steps, expected ${nIn}`,
        'shape',
      );
    }
    inputs.set(rowsToFlat(w.values, features, `window ${w.seq}`), s * nIn * features);
  });
  let predictionTargets: Float32Array | undefined;
  if (hasPrediction(config.variant)) {
    if (needsNext) {
      predictionTargets = new Float32Array(usable.length * nOut * features);
      usable.forEach((w, s) => {
        // The next window's rows are this window's rows 2..nIn plus the next reading.
        const next = rowsToFlat(bySeq.get(w.seq + 1)!.values, features, `window ${w.seq + 1}`);
        predictionTargets!.set(next.subarray((nIn - nOut) * features), s * nOut * features);
      });
    } else {
      predictionTargets = seedTargets(config, inputs, usable.length);
    }
  }
  return { count: usable.length, inputs, predictionTargets };
}

/** Flattens a batch of windows [b][nIn][features] and checks its shape. */
export function flattenWindows(
  windows: ArrayLike<Rows> | Float32Array,
  nIn: number,
  features: number,
): { count: number; data: Float32Array } {
  if (windows instanceof Float32Array) {
    if (windows.length % (nIn * features) !== 0) {
      throw new ValidationError(
        `batch length ${windows.length} is not a multiple of ${nIn}×${features}`,
        'shape',
      );
    }
    return { count: windows.length / (nIn * features), data: windows };
  }
  const data = new Float32Array(windows.length * nIn * features);
  for (let b = 0; b < windows.length; b++) {
    const w = windows[b]!;
    if (w.length !== nIn)
      throw new ValidationError(`window ${b} has ${w.length} steps, expected ${nIn}`, 'shape');
    data.set(rowsToFlat(w, features, `window ${b}`), b * nIn * features);
  }
  return { count: windows.length, data };
}
