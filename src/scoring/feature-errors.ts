import type { AlertReason } from '../anomaly/index.js';
import type { FeatureErrors } from '../contracts/outputs.js';

/**
 * Each feature's squared one-step forecast error in units of its normalisation scale: the terms
 * whose mean is the window's `predictionError` (`forecastError`).
 */
export function forecastFeatureErrors(
  forecast: ArrayLike<number>,
  actual: ArrayLike<number>,
  scale: ArrayLike<number>,
): number[] {
  const out = new Array<number>(forecast.length);
  for (let f = 0; f < forecast.length; f++) out[f] = ((forecast[f]! - actual[f]!) / scale[f]!) ** 2;
  return out;
}

/** The mean of `values` (the window's error from its per-feature terms); 0 when empty. */
export function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length > 0 ? s / values.length : 0;
}

/** Index of the largest value (the first of equals; NaN never wins). */
function argmax(values: readonly number[]): number {
  let best = 0;
  for (let f = 1; f < values.length; f++) if (values[f]! > values[best]!) best = f;
  return best;
}

/**
 * A window's per-feature errors and the feature behind its alert: the largest term of the error
 * `reason` names, the prediction error's for `prediction`, else the reconstruction error's (the range
 * and spread checks and a null reason have no feature terms of their own); whichever exists when the
 * model has only one of them.
 */
export function featureErrors(
  reconstruction: number[] | null,
  prediction: number[] | null,
  reason: AlertReason | null,
): FeatureErrors {
  const behind =
    (reason === 'prediction' ? (prediction ?? reconstruction) : (reconstruction ?? prediction)) ??
    [];
  return { reconstruction, prediction, top: argmax(behind) };
}
