import type { NormalisationKind } from './config.js';

/**
 * Per-feature affine scaling `(x - offset) / scale`, fitted on training data and stored with the
 * model so that scoring uses exactly the training statistics.
 */
export interface Normalisation {
  kind: NormalisationKind;
  offset: number[];
  scale: number[];
}

/** Fits the scaling on values laid out row-major as [..., features]. */
export function fitNormalisation(
  kind: NormalisationKind,
  values: ArrayLike<number>,
  features: number,
): Normalisation {
  const offset = new Array<number>(features).fill(0);
  const scale = new Array<number>(features).fill(1);
  const rows = Math.floor(values.length / features);
  if (kind === 'none' || rows === 0) return { kind, offset, scale };
  for (let f = 0; f < features; f++) {
    let a = Infinity;
    let b = -Infinity;
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      const v = values[r * features + f]!;
      if (v < a) a = v;
      if (v > b) b = v;
      sum += v;
    }
    if (kind === 'minmax') {
      offset[f] = a;
      scale[f] = b - a > 1e-12 ? b - a : 1;
    } else {
      const mean = sum / rows;
      let sq = 0;
      for (let r = 0; r < rows; r++) sq += (values[r * features + f]! - mean) ** 2;
      const std = Math.sqrt(sq / rows);
      offset[f] = mean;
      scale[f] = std > 1e-12 ? std : 1;
    }
  }
  return { kind, offset, scale };
}

/** Scales row-major [..., features] values into a new Float32Array. */
export function normalise(n: Normalisation, values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  const features = n.offset.length;
  for (let i = 0; i < values.length; i++) {
    const f = i % features;
    out[i] = (values[i]! - n.offset[f]!) / n.scale[f]!;
  }
  return out;
}

/** The inverse of `normalise`, in place. */
export function denormaliseInPlace(n: Normalisation, values: Float32Array): Float32Array {
  const features = n.offset.length;
  if (n.kind === 'none') return values;
  for (let i = 0; i < values.length; i++) {
    const f = i % features;
    values[i] = values[i]! * n.scale[f]! + n.offset[f]!;
  }
  return values;
}
