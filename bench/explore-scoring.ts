/**
 * The scoring variants explored on cached NAB errors (bench/nab-scoring.ts), kept to reproduce the
 * comparison: LikelihoodScoring's steps with switches (multi-scale and exponential short-term
 * averages, empirical tails, quiet periods, a value surprise, level and spread range checks, graded
 * range exits). What won went into src/anomaly/likelihood.ts; this is not used by seqae itself.
 */
import { LRUCache } from 'lru-cache';
import type {
  AnomalyScoring,
  ErrorStats,
  ScoringContext,
  WindowErrors,
} from '../src/anomaly/index.js';
import { ErrorRanks, gaussianTail, tailScore } from '../src/anomaly/likelihood.js';

export interface CalibratedOptions {
  /** Spans (windows) of the short-term averages of surprise, one tail test each. Default [20]. */
  scales: number[];
  /** Windows the long-term statistics and histograms remember (exponential forgetting). Default 5000. */
  longWindow: number;
  /** Surprises a kind needs before it counts (earlier windows score 0 but for the range). Default 50. */
  warmup: number;
  /** Fraction of the seen range a value may go past it before it alerts; ≤ 0: off. Default 0.05. */
  rangeMargin: number;
  /** Tail probability from which a window alerts. Default 1e-5. */
  alertTail: number;
  /** Tail probability reported while a detection is being held quiet. Default 1e-3. */
  afterAlertTail: number;
  /** Windows after an alert that report at most `afterAlertTail`; 0: only the run of alerts. */
  quiet: number;
  /** Readings the value's local level averages (its deviation is a third surprise); 0: off. */
  valueWindow: number;
  /** Whether the value's two-sided surprise against its long-term mean and variance is a surprise too. */
  valueLevel: boolean;
  /** Which model errors count. Default both. */
  errors: 'both' | 'reconstruction' | 'prediction' | 'none';
  /** How the surprises of one window combine. Default max. */
  combine: 'max' | 'mean';
  /** Whether a range exit is an alert like any other (held quiet after) or scores 1 always. */
  rangeQuiet: boolean;
  /** How a scale's short-term average becomes a tail: Gaussian on its long-term mean and variance, or its empirical rank among its own past values. */
  tail: 'gaussian' | 'empirical';
  /** Short-term average: the plain mean of the last `scale` surprises (box) or an exponential one (ew). */
  short: 'box' | 'ew';
  /** Readings over which the local spread (mean absolute change) is measured for the spread range check; 0: off. */
  spreadWindow: number;
  /** Whether a range exit's tail shrinks with its size (alertTail·e^-(m-1) for an exit of m margins) or is 0. */
  graded: boolean;
  spreadEw: boolean;
  rangeWarmup: boolean;
  /** Whether the mean level over `spreadWindow` leaving its own seen range alerts too. */
  levelCheck: boolean;
  /** Which side of the spread's seen range alerts. */
  spreadSide: 'low' | 'high' | 'both';
  /** Streams whose state is kept (least recently scored dropped first). Default 100000. */
  maxStreams: number;
}

export const CALIBRATED_DEFAULTS: CalibratedOptions = {
  scales: [20],
  longWindow: 5000,
  warmup: 50,
  rangeMargin: 0.05,
  alertTail: 1e-5,
  afterAlertTail: 1e-3,
  quiet: 0,
  valueWindow: 0,
  valueLevel: false,
  errors: 'both',
  combine: 'max',
  rangeQuiet: false,
  tail: 'gaussian',
  short: 'box',
  spreadWindow: 0,
  spreadSide: 'both',
  levelCheck: false,
  graded: false,
  spreadEw: false,
  rangeWarmup: false,
  maxStreams: 100_000,
};

interface Scale {
  alpha: number;
  short: number;
  n: number;
  mean: number;
  variance: number;
  ranks: ErrorRanks;
}

interface StreamState {
  reconstruction: ErrorRanks;
  prediction: ErrorRanks;
  value: ErrorRanks;
  recentValues: number[];
  recent: number[];
  diffs: number[];
  lastValue: number;
  smin: number;
  smax: number;
  sn: number;
  ew: number;
  lvals: number[];
  lmin: number;
  lmax: number;
  vn: number;
  vmean: number;
  vvar: number;
  scales: Scale[];
  started: number;
  min: number;
  max: number;
  lastAlert: number;
  seen: number;
  alerting: boolean;
}

export class CalibratedScoring implements AnomalyScoring {
  readonly name = 'calibrated';
  readonly options: CalibratedOptions;
  private readonly streams: LRUCache<string, StreamState>;

  constructor(options: Partial<CalibratedOptions> = {}) {
    this.options = { ...CALIBRATED_DEFAULTS, ...options };
    this.streams = new LRUCache({ max: Math.max(1, this.options.maxStreams) });
  }

  forget(streamId: string): void {
    this.streams.delete(streamId);
  }

  private state(id: string): StreamState {
    let s = this.streams.get(id);
    if (!s) {
      const o = this.options;
      s = {
        reconstruction: new ErrorRanks(1 / o.longWindow),
        prediction: new ErrorRanks(1 / o.longWindow),
        value: new ErrorRanks(1 / o.longWindow),
        recentValues: [],
        recent: [],
        diffs: [],
        lastValue: NaN,
        smin: Infinity,
        smax: -Infinity,
        sn: 0,
        ew: NaN,
        lvals: [],
        lmin: Infinity,
        lmax: -Infinity,
        vn: 0,
        vmean: 0,
        vvar: 0,
        scales: o.scales.map((w) => ({
          alpha: 2 / (w + 1),
          short: 0,
          n: 0,
          mean: 0,
          variance: 0,
          ranks: new ErrorRanks(1 / o.longWindow),
        })),
        started: 0,
        min: Infinity,
        max: -Infinity,
        lastAlert: -Infinity,
        seen: 0,
        alerting: false,
      };
      this.streams.set(id, s);
    }
    return s;
  }

  score(errors: WindowErrors, _stats: ErrorStats | undefined, context?: ScoringContext): number {
    const o = this.options;
    const s = this.state(context?.streamId ?? '');
    const i = s.seen++;
    const value = context?.value;
    const range = s.max - s.min;
    const outOfRange = this.rangeCheck(s, value);
    const surprises: number[] = [];
    const rank = (e: number | null | undefined, r: ErrorRanks) => {
      if (e === undefined || e === null || !Number.isFinite(e)) return;
      const warm = r.size >= o.warmup;
      const q = r.surpriseThenAdd(e);
      if (warm) surprises.push(q);
    };
    if (o.errors === 'both' || o.errors === 'reconstruction')
      rank(errors.reconstructionError, s.reconstruction);
    if (o.errors === 'both' || o.errors === 'prediction')
      rank(errors.predictionError, s.prediction);
    if (o.valueWindow > 0 && value !== undefined && Number.isFinite(value)) {
      if (s.recentValues.length === o.valueWindow && range > 0) {
        const level = s.recentValues.reduce((a, b) => a + b, 0) / o.valueWindow;
        rank(((value - level) / range) ** 2, s.value);
      }
      s.recentValues.push(value);
      if (s.recentValues.length > o.valueWindow) s.recentValues.shift();
    }
    if (o.valueLevel && value !== undefined && Number.isFinite(value)) {
      if (s.vn >= o.warmup) {
        const z = Math.abs(value - s.vmean) / Math.sqrt(Math.max(s.vvar, 1e-12));
        surprises.push(-Math.log(Math.max(1e-300, 2 * gaussianTail(z))));
      }
      s.vn++;
      const w = Math.max(1 / s.vn, 1 / o.longWindow);
      const d = value - s.vmean;
      s.vmean += w * d;
      s.vvar = (1 - w) * (s.vvar + w * d * d);
    }
    let tail = 1;
    if (surprises.length > 0) {
      const raw =
        o.combine === 'max'
          ? Math.max(...surprises)
          : surprises.reduce((a, b) => a + b, 0) / surprises.length;
      let best = 1;
      s.recent.push(raw);
      const maxScale = Math.max(...o.scales);
      if (s.recent.length > maxScale) s.recent.shift();
      for (const [j, k] of s.scales.entries()) {
        if (o.short === 'box') {
          const w = Math.min(o.scales[j]!, s.recent.length);
          let sum = 0;
          for (let r = s.recent.length - w; r < s.recent.length; r++) sum += s.recent[r]!;
          k.short = sum / w;
        } else k.short = k.n === 0 ? raw : k.short + k.alpha * (raw - k.short);
        const minN = o.short === 'box' ? o.scales[j]! : 1 / k.alpha;
        if (o.tail === 'empirical') {
          const q = Math.exp(-k.ranks.surpriseThenAdd(k.short));
          if (k.n >= o.warmup) best = Math.min(best, q);
        } else if (k.n >= minN) {
          const std = Math.sqrt(Math.max(k.variance, 1e-6));
          best = Math.min(best, gaussianTail((k.short - k.mean) / std));
        }
        k.n++;
        const w = Math.max(1 / k.n, 1 / o.longWindow);
        const d = k.short - k.mean;
        k.mean += w * d;
        k.variance = (1 - w) * (k.variance + w * d * d);
      }
      tail = Math.min(1, best * s.scales.length);
    }
    const exitTail = (m: number) => (o.graded ? o.alertTail * Math.exp(-(m - 1)) : 0);
    const spreadExit = this.spreadCheck(s, value);
    if (spreadExit > 0) tail = Math.min(tail, exitTail(spreadExit));
    if (this.levelRange(s, value)) tail = 0;
    if (outOfRange > 0 && o.rangeQuiet) tail = Math.min(tail, exitTail(outOfRange));
    const alert = tail <= o.alertTail;
    const held = o.quiet > 0 ? i - s.lastAlert <= o.quiet : s.alerting;
    let reported = tail;
    if (alert && held) reported = Math.max(tail, o.afterAlertTail);
    else if (held && o.quiet > 0) reported = Math.max(tail, o.afterAlertTail);
    if (alert && !held) s.lastAlert = i;
    s.alerting = alert;
    if (outOfRange > 0 && !o.rangeQuiet) return 1;
    return tailScore(reported);
  }

  /** Whether the local spread (mean absolute change over `spreadWindow`) leaves its seen range. */
  private spreadCheck(s: StreamState, value: number | undefined): number {
    const o = this.options;
    if (o.spreadWindow <= 0 || value === undefined || !Number.isFinite(value)) return 0;
    if (Number.isFinite(s.lastValue)) s.diffs.push(Math.abs(value - s.lastValue));
    if (Number.isFinite(s.lastValue)) {
      const d = Math.abs(value - s.lastValue);
      s.ew = Number.isFinite(s.ew) ? s.ew + (2 / (o.spreadWindow + 1)) * (d - s.ew) : d;
    }
    s.lastValue = value;
    if (s.diffs.length > o.spreadWindow) s.diffs.shift();
    if (s.diffs.length < o.spreadWindow) return 0;
    const spread = o.spreadEw ? s.ew : s.diffs.reduce((a, b) => a + b, 0) / o.spreadWindow;
    const width = s.smax - s.smin;
    const margin = width * o.rangeMargin;
    const warm = s.sn++ >= o.warmup;
    const low = o.spreadSide !== 'high' && spread < s.smin - margin;
    const high = o.spreadSide !== 'low' && spread > s.smax + margin;
    const excess = low ? s.smin - spread : high ? spread - s.smax : 0;
    s.smin = Math.min(s.smin, spread);
    s.smax = Math.max(s.smax, spread);
    return warm && width > 0 && (low || high) ? excess / margin : 0;
  }

  private levelRange(s: StreamState, value: number | undefined): boolean {
    const o = this.options;
    if (!o.levelCheck || value === undefined || !Number.isFinite(value)) return false;
    s.lvals.push(value);
    if (s.lvals.length > o.spreadWindow) s.lvals.shift();
    if (s.lvals.length < o.spreadWindow) return false;
    const level = s.lvals.reduce((a, b) => a + b, 0) / o.spreadWindow;
    const margin = (s.lmax - s.lmin) * o.rangeMargin;
    const out =
      s.sn >= o.warmup && s.lmax > s.lmin && (level > s.lmax + margin || level < s.lmin - margin);
    s.lmin = Math.min(s.lmin, level);
    s.lmax = Math.max(s.lmax, level);
    return out;
  }

  private rangeCheck(s: StreamState, value: number | undefined): number {
    if (value === undefined || !Number.isFinite(value)) return 0;
    const margin = (s.max - s.min) * this.options.rangeMargin;
    const out =
      this.options.rangeMargin > 0 &&
      s.max > s.min &&
      (!this.options.rangeWarmup || s.seen > this.options.warmup) &&
      (value > s.max + margin || value < s.min - margin);
    const excess = value > s.max ? value - s.max : s.min - value;
    s.min = Math.min(s.min, value);
    s.max = Math.max(s.max, value);
    return out ? excess / margin : 0;
  }
}
