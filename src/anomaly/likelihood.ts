import { LRUCache } from 'lru-cache';
import type { AnomalyScoring, ErrorStats, ScoringContext, WindowErrors } from './index.js';

/**
 * Anomaly likelihood, calibrated per stream against that stream's own history (after Numenta HTM's
 * anomaly likelihood and its range check). For each window:
 * 1. each error (reconstruction, one-step prediction) becomes its surprise among the stream's past
 *    errors of the same kind, -ln of the fraction of them at or above it: exponential with mean 1
 *    while the stream behaves as it did, whatever its scale or its model's quality; the window's raw
 *    score is the larger of the two (or their mean);
 * 2. the mean of the last `shortWindow` raw scores (short term) is compared with the long-term mean and
 *    variance of that same average: its Gaussian tail probability q says how unusual the recent
 *    errors are; the score is -ln(q) / ln(1e10), 0.5 at q = 1e-5, clipped to [0, 1];
 * 3. range checks, for what the errors miss once a model has adapted to it or was never shown it:
 *    a value that leaves the range the stream's values have covered so far, or a local spread (the
 *    mean absolute change over the last `spreadWindow` readings) that leaves the range of spreads
 *    seen so far (a stream gone flat, or much noisier than ever), by more than `rangeMargin` of the
 *    range's width, is an alert of tail 0 (score 1).
 * A run of alerts is cut to its first: while the tail stays below `alertTail`, later windows score as
 * q = `afterAlertTail` (a detection is worth the most early in an anomaly; repeats only cost).
 * Strictly causal: each window is scored before it joins the history. Per stream: two 112-bin
 * histograms, the last `shortWindow` raw scores and `spreadWindow` changes, a few numbers.
 */
export interface LikelihoodOptions {
  /** Raw scores averaged for the short-term level. Default 20. */
  shortWindow: number;
  /** Windows the long-term statistics and error histograms remember (exponential forgetting). Default 5000. */
  longWindow: number;
  /** Errors of a kind a stream needs before they score (earlier windows score 0 but for the range). Default 50. */
  warmup: number;
  /**
   * Fraction of a seen range (the values', the spreads') a window may go past it before it alerts;
   * ≤ 0 turns both range checks off. Default 0.05.
   */
  rangeMargin: number;
  /**
   * Readings whose mean absolute change is the local spread that the spread range check follows;
   * 0 turns that check off. Default 30.
   */
  spreadWindow: number;
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
  spreadWindow: 30,
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

export class ErrorRanks {
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

/** The range a quantity has covered so far. */
interface Range {
  min: number;
  max: number;
}

interface StreamState {
  reconstruction: ErrorRanks;
  prediction: ErrorRanks;
  /** The last `shortWindow` raw scores (a ring from `recentAt`). */
  recent: Float64Array;
  recentAt: number;
  recentCount: number;
  /** Long-term mean and variance of the short-term average (Welford, then exponential). */
  n: number;
  mean: number;
  variance: number;
  /** Readings seen (with a finite value). */
  seen: number;
  values: Range;
  last: number;
  /** The last `spreadWindow` absolute changes (a ring) and the range of their mean. */
  changes: Float64Array;
  spreads: Range;
  /** Whether the previous window alerted (the run cut). */
  alerting: boolean;
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
        recent: new Float64Array(Math.max(1, o.shortWindow)),
        recentAt: 0,
        recentCount: 0,
        n: 0,
        mean: 0,
        variance: 0,
        seen: 0,
        values: { min: Infinity, max: -Infinity },
        last: NaN,
        changes: new Float64Array(Math.max(0, o.spreadWindow)),
        spreads: { min: Infinity, max: -Infinity },
        alerting: false,
      };
      this.streams.set(id, s);
    }
    const outOfRange = this.rangeChecks(s, context?.value);
    const ranks: number[] = [];
    const rank = (e: number | null | undefined, r: ErrorRanks) => {
      if (e === undefined || e === null || !Number.isFinite(e)) return;
      const warm = r.size >= o.warmup;
      const q = r.surpriseThenAdd(e);
      if (warm) ranks.push(q);
    };
    rank(errors.reconstructionError, s.reconstruction);
    rank(errors.predictionError, s.prediction);
    let tail = 1;
    if (ranks.length > 0) {
      const raw =
        o.combine === 'max' ? Math.max(...ranks) : ranks.reduce((a, b) => a + b, 0) / ranks.length;
      s.recent[s.recentAt] = raw;
      s.recentAt = (s.recentAt + 1) % s.recent.length;
      s.recentCount = Math.min(s.recentCount + 1, s.recent.length);
      let sum = 0;
      for (let i = 0; i < s.recentCount; i++) sum += s.recent[i]!;
      const short = sum / s.recentCount;
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
    }
    if (outOfRange) tail = 0;
    const alert = tail <= o.alertTail;
    const reported = alert && s.alerting ? o.afterAlertTail : tail;
    s.alerting = alert;
    return tailScore(reported);
  }

  /**
   * Whether `value`, or the local spread it makes, leaves the range seen so far by more than the
   * margin (once `warmup` readings are in); then widens the ranges.
   */
  private rangeChecks(s: StreamState, value: number | undefined): boolean {
    if (value === undefined || !Number.isFinite(value)) return false;
    const o = this.options;
    const warm = s.seen >= o.warmup && o.rangeMargin > 0;
    let out = warm && leaves(s.values, value, o.rangeMargin);
    widen(s.values, value);
    if (o.spreadWindow > 0 && s.seen > 0) {
      // Change i goes to slot i mod spreadWindow; the mean is over a full ring only.
      s.changes[(s.seen - 1) % o.spreadWindow] = Math.abs(value - s.last);
      if (s.seen >= o.spreadWindow) {
        let sum = 0;
        for (let i = 0; i < o.spreadWindow; i++) sum += s.changes[i]!;
        const spread = sum / o.spreadWindow;
        // The spreads' own range needs `warmup` spreads before it judges.
        const spreadsWarm = warm && s.seen >= o.spreadWindow + o.warmup;
        out = (spreadsWarm && leaves(s.spreads, spread, o.rangeMargin)) || out;
        widen(s.spreads, spread);
      }
    }
    s.last = value;
    s.seen++;
    return out;
  }
}

/** Whether `x` lies outside `r` by more than `margin` of its width (never for an empty range). */
function leaves(r: Range, x: number, margin: number): boolean {
  const m = (r.max - r.min) * margin;
  return r.max > r.min && (x > r.max + m || x < r.min - m);
}

function widen(r: Range, x: number): void {
  r.min = Math.min(r.min, x);
  r.max = Math.max(r.max, x);
}
