/**
 * A model's errors on its own training windows, stored with each version in the model registry: the
 * mean and standard deviation of log errors (`logErrorStats`), the yardstick of anomaly scores.
 */
export interface ErrorStats {
  reconstruction?: { mean: number; std: number };
  prediction?: { mean: number; std: number };
}

/** The raw errors of one window, in normalised units (scale-free across streams). */
export interface WindowErrors {
  /** Mean squared reconstruction error over the window. */
  reconstructionError?: number;
  /** Squared error of the one-step forecast for the window's last reading, when it is known. */
  predictionError?: number | null;
}

/**
 * Which check made a window's score: the reconstruction or one-step prediction error's surprise, a
 * value outside the range the stream has covered, a local spread outside the spreads seen, or a change
 * between two readings past the changes seen (a spike, a jump).
 */
export type AlertReason = 'reconstruction' | 'prediction' | 'range' | 'spread';

/** A window's score and the check behind it (null while no check has anything to say). */
export interface ScoreDetail {
  score: number;
  reason: AlertReason | null;
}

/**
 * An operator's word that an alert was false (`seqae feedback`, topic `seqae.feedback`), with what
 * is known of that alert: from the sender, or from the worker's record of the alerts it published.
 */
export interface FalseAlarm {
  streamId: string;
  seq: number;
  reason?: AlertReason | null;
  score?: number;
  reconstructionError?: number | null;
  predictionError?: number | null;
  /** The window's last value and its distance from the window's median (first feature). */
  value?: number;
  excess?: number;
  /** When it was marked, epoch ms. */
  at?: number;
}

/** Where a window comes from, for scorings calibrated per stream. */
export interface ScoringContext {
  streamId: string;
  /** The window's last reading (its first feature): for range and level checks. */
  value?: number;
}

/**
 * Turns a window's errors into an anomaly score in [0, 1]. One interface, so that a calibrated
 * scoring can replace this first one without touching the workers. A stateful scoring keeps its
 * per-stream state itself, keyed by `context.streamId`, and must see each stream's windows in order.
 */
export interface AnomalyScoring {
  readonly name: string;
  score(errors: WindowErrors, stats: ErrorStats | undefined, context?: ScoringContext): number;
  /**
   * The check behind the last alert of `streamId`, null when its last window is no alert
   * (scorings without checks of their own: undefined).
   */
  reasonOf?(streamId: string): AlertReason | null;
  /**
   * The last window's alert score, in the score's units (an alert from the alert threshold): a
   * scoring whose alerts are stricter than its score grades (the score ranks how unusual a window
   * is; the alert says whether it is worth a page). Without it, the score is the alert score.
   */
  alertScoreOf?(streamId: string): number | undefined;
  /** Whether the last window of `streamId` would have paged but its event recurs on a schedule. */
  routineOf?(streamId: string): boolean;
  /** A new model version scores `streamId`: errors of the old one are no yardstick for the new. */
  modelChanged?(streamId: string): void;
}

const EPS = 1e-12;

/** Mean and standard deviation of log errors: errors are skewed, their logs much less so. */
export function logErrorStats(
  errors: ArrayLike<number>,
): { mean: number; std: number } | undefined {
  const n = errors.length;
  if (n === 0) return undefined;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.log(errors[i]! + EPS);
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (Math.log(errors[i]! + EPS) - mean) ** 2;
  return { mean, std: Math.sqrt(sq / n) };
}

/**
 * The error of a one-step forecast (`WindowErrors.predictionError`): the mean over features of the
 * squared difference between the forecast row and the reading that came, each in units of its
 * feature's normalisation scale, like the model's other errors.
 */
export function forecastError(
  forecast: ArrayLike<number>,
  actual: ArrayLike<number>,
  scale: ArrayLike<number>,
): number {
  let e = 0;
  for (let f = 0; f < forecast.length; f++) e += ((forecast[f]! - actual[f]!) / scale[f]!) ** 2;
  return e / forecast.length;
}

/** erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), enough for a score. */
export function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return s * y;
}

/**
 * The first score: each error's z-score on the log scale against the same error on the model's own
 * training windows (a per-stream normalisation, since a model is per stream by default), the larger
 * of the two z-scores, mapped to [0, 1] by erf(z/√2): 0 at or below the training median, 0.68 one
 * standard deviation above, 0.997 three above.
 */
export const trainingZScoring: AnomalyScoring = {
  name: 'training-z',
  score(errors, stats) {
    let z = -Infinity;
    const consider = (
      e: number | null | undefined,
      s: { mean: number; std: number } | undefined,
    ) => {
      if (e === undefined || e === null || !Number.isFinite(e) || !s) return;
      z = Math.max(z, (Math.log(e + EPS) - s.mean) / Math.max(s.std, 1e-3));
    };
    consider(errors.reconstructionError, stats?.reconstruction);
    consider(errors.predictionError, stats?.prediction);
    return z > 0 ? Math.min(1, Math.max(0, erf(z / Math.SQRT2))) : 0;
  },
};

export {
  FeedbackMemory,
  similar,
  windowExcess,
  type AlertDetail,
  type FeedbackOptions,
} from './feedback.js';
export {
  LIKELIHOOD_DEFAULTS,
  LikelihoodScoring,
  gaussianTail,
  tailScore,
  type LikelihoodOptions,
} from './likelihood.js';
