import { LRUCache } from 'lru-cache';
import type { AnomalyScoring, ErrorStats, ScoringContext, WindowErrors } from './index.js';

/**
 * Anomaly likelihood, calibrated per stream against that stream's own history (after Numenta HTM's
 * anomaly likelihood). For each window:
 * 1. each error (reconstruction, one-step prediction) becomes its surprise among the stream's past
 *    errors of the same kind, -ln of the fraction of them at or above it: exponential with mean 1
 *    while the stream behaves as it did, whatever its scale or its model's quality; the window's raw
 *    score is the larger of the two (or their mean);
 * 2. the mean of the last `shortWindow` raw scores (short term) is compared with the long-term mean and
 *    variance of that same average: its Gaussian tail probability q says how unusual the recent
 *    errors are; the score is -ln(q) / ln(1e10), 0.5 at q = 1e-5, clipped to [0, 1];
 * 3. a value that leaves the range seen so far by more than `rangeMargin` of its width scores 1 (a
 *    level or range change the errors may miss once the model adapts to it).
 * A run of alerts is cut to its first: while the tail stays below `alertTail`, later windows score as
 * q = `afterAlertTail` (a detection is worth the most early in an anomaly; repeats only cost).
 * Strictly causal: each window is scored before it joins the history.
 */
export interface LikelihoodOptions {
  /** Raw scores averaged for the short-term level. Default 20. */
  shortWindow: number;
  /** Windows the long-term statistics and error histograms remember (exponential forgetting). Default 5000. */
  longWindow: number;
  /** Errors of a kind a stream needs before they score (earlier windows score 0 but for the range). Default 50. */
  warmup: number;
  /** Fraction of the seen range a value may go past it before scoring 1; ≤ 0 turns the check off. Default 0.05. */
  rangeMargin: number;
  /** Tail probability from which a window alerts. Default 1e-5. */
  alertTail: number;
  /** Tail probability reported for the windows after the first of a run of alerts. Default 1e-3. */
  afterAlertTail: number;
  /** How the two surprises combine into the raw score. Default `max`. */
  combine: 'max' | 'mean';
  /** Streams whose state is kept (least recently scored dropped first). Default 100000. */
  maxStreams: number;
}

export const LIKELIHOOD_DEFAULTS: LikelihoodOptions = {
  shortWindow: 20,
  longWindow: 5000,
  warmup: 50,
  rangeMargin: 0.05,
  alertTail: 1e-5,
  afterAlertTail: 1e-3,
  combine: 'max',
  maxStreams: 100_000,
};

/**
 * Log-error histogram (small per-stream state): ranks to within a bin, linearly inside it;
 * 10^-8 .. 10^6, 8 bins a decade.
 */
const LOG_MIN = -8 * Math.LN10;
const LOG_MAX = 6 * Math.LN10;
const BINS = 112;
const BIN_WIDTH = (LOG_MAX - LOG_MIN) / BINS;

class ErrorRanks {
  private readonly counts = new Float64Array(BINS);
  private total = 0;

  constructor(private readonly decay: number) {}

  get size(): number {
    return this.total;
  }

  /**
   * The surprise of `e` among the past errors, -ln of the fraction at or above it (at least one
   * error's worth), before `e` joins them: exponential with mean 1 while errors come as before.
   */
  surpriseThenAdd(e: number): number {
    const x = (Math.log(Math.max(e, 1e-300)) - LOG_MIN) / BIN_WIDTH;
    const bin = Math.min(BINS - 1, Math.max(0, Math.floor(x)));
    const within = Math.min(1, Math.max(0, x - bin));
    let below = 0;
    for (let b = 0; b < bin; b++) below += this.counts[b]!;
    below += this.counts[bin]! * within;
    const above = this.total > 0 ? 1 - below / this.total : 1;
    const surprise = -Math.log(Math.max(above, 1 / (this.total + 1)));
    if (this.total >= 1 / this.decay) {
      const keep = 1 - this.decay;
      for (let b = 0; b < BINS; b++) this.counts[b]! *= keep;
      this.total *= keep;
    }
    this.counts[bin]! += 1;
    this.total += 1;
    return surprise;
  }
}

interface StreamState {
  reconstruction: ErrorRanks;
  prediction: ErrorRanks;
  recent: number[];
  /** Long-term mean and variance of the short-term average (Welford, then exponential). */
  n: number;
  mean: number;
  variance: number;
  min: number;
  max: number;
  lastTail: number;
}

/** The Gaussian upper tail Q(z) = P(Z > z), by the complementary error function. */
export function gaussianTail(z: number): number {
  // erfc by Numerical Recipes' erfcc (fractional error < 1.2e-7 everywhere).
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const r =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return (x >= 0 ? r : 2 - r) / 2;
}

/** The score of a tail probability: -ln(q) / ln(1e10) in [0, 1], 0.5 at q = 1e-5. */
export function tailScore(q: number): number {
  return Math.min(1, Math.max(0, Math.log(q + 1e-10) / Math.log(1e-10)));
}

export class LikelihoodScoring implements AnomalyScoring {
  readonly name = 'likelihood';
  readonly options: LikelihoodOptions;
  private readonly streams: LRUCache<string, StreamState>;

  constructor(options: Partial<LikelihoodOptions> = {}) {
    this.options = { ...LIKELIHOOD_DEFAULTS, ...options };
    this.streams = new LRUCache({ max: Math.max(1, this.options.maxStreams) });
  }

  /** Forgets a stream (its model changed beyond comparison, or it ended). */
  forget(streamId: string): void {
    this.streams.delete(streamId);
  }

  score(errors: WindowErrors, _stats: ErrorStats | undefined, context?: ScoringContext): number {
    const o = this.options;
    const id = context?.streamId ?? '';
    let s = this.streams.get(id);
    if (!s) {
      s = {
        reconstruction: new ErrorRanks(1 / o.longWindow),
        prediction: new ErrorRanks(1 / o.longWindow),
        recent: [],
        n: 0,
        mean: 0,
        variance: 0,
        min: Infinity,
        max: -Infinity,
        lastTail: 1,
      };
      this.streams.set(id, s);
    }
    const outOfRange = this.rangeCheck(s, context?.value);
    const ranks: number[] = [];
    const rank = (e: number | null | undefined, r: ErrorRanks) => {
      if (e === undefined || e === null || !Number.isFinite(e)) return;
      const warm = r.size >= o.warmup;
      const q = r.surpriseThenAdd(e);
      if (warm) ranks.push(q);
    };
    rank(errors.reconstructionError, s.reconstruction);
    rank(errors.predictionError, s.prediction);
    if (ranks.length === 0) return outOfRange ? 1 : 0;
    const raw =
      o.combine === 'max' ? Math.max(...ranks) : ranks.reduce((a, b) => a + b, 0) / ranks.length;
    s.recent.push(raw);
    if (s.recent.length > o.shortWindow) s.recent.shift();
    const short = s.recent.reduce((a, b) => a + b, 0) / s.recent.length;
    let tail = 1;
    if (s.n >= o.shortWindow) {
      const std = Math.sqrt(Math.max(s.variance, 1e-6));
      tail = gaussianTail((short - s.mean) / std);
    }
    // Welford's update, turning into an exponential average once longWindow values are in.
    s.n++;
    const w = Math.max(1 / s.n, 1 / o.longWindow);
    const d = short - s.mean;
    s.mean += w * d;
    s.variance = (1 - w) * (s.variance + w * d * d);
    const reported = tail <= o.alertTail && s.lastTail <= o.alertTail ? o.afterAlertTail : tail;
    s.lastTail = tail;
    return outOfRange ? 1 : tailScore(reported);
  }

  /** Whether `value` leaves the range seen so far by more than the margin; then widens the range. */
  private rangeCheck(s: StreamState, value: number | undefined): boolean {
    if (value === undefined || !Number.isFinite(value)) return false;
    const margin = (s.max - s.min) * this.options.rangeMargin;
    const out =
      this.options.rangeMargin > 0 &&
      s.max > s.min &&
      (value > s.max + margin || value < s.min - margin);
    s.min = Math.min(s.min, value);
    s.max = Math.max(s.max, value);
    return out;
  }
}
