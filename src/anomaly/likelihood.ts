import { LRUCache } from 'lru-cache';
import type {
  AlertReason,
  AnomalyScoring,
  ErrorStats,
  ScoringContext,
  WindowErrors,
} from './index.js';
import { PeakTail } from './peaks.js';
import { ErrorRanks } from './ranks.js';
import { RecordRange } from './records.js';
import { Recurrence } from './recurrence.js';

export { ErrorRanks };

/**
 * Anomaly likelihood, calibrated per stream against that stream's own history (after Numenta HTM's
 * anomaly likelihood and its range check), and an alert stricter than the score. For each window:
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
 *    range's width, is judged by the stream's record history (records.ts): its chance is the rate at
 *    which the stream sets records times the chance of an exit that far, scaled by `rangeTail`;
 * The score ranks windows by how unusual they are (what NAB measures, with a threshold of its
 * choosing). The alert asks more, since a page costs an operator's attention: the short-term level
 * at `alertLevelTail`, a range or spread exit at `alertRangeTail` (a noisy sensor's or a random
 * walk's new high raises the score but pages no one; the alert judges a spread against the spreads
 * it does not overlap, with a history that learns one spread in `spreadWindow`, since a stuck
 * sensor's spread creeps off its range a step at a time), and a peak check that the score leaves out:
 * the one-step prediction error against its local level, under the stream's peaks over threshold
 * (peaks.ts), at `peakTail` (a spike the model did not foresee, even inside the range an earlier
 * spike widened); a weak peak (under `corroborateBelow`) pages only when the window's reconstruction
 * error jumps with it to `peakCorroboration` times its level (a spike stands out in its whole
 * window; a forecast gone wrong does not), and a peak so corroborated pages from `corroboratedTail`.
 * After an alert, for `coolDown` windows (a run of alerts included), a window
 * reports at most q = `afterAlertTail`, in the score and in the alert (a detection is worth the most
 * early in an anomaly; repeats only cost). `alertScoreOf` gives the alert's score (an alert from
 * 0.5), `reasonOf` the check behind an alert (null when the window is no alert).
 * Strictly causal: each window is scored before it joins the history. Per stream: four 112-bin
 * histograms, the last `shortWindow` raw scores and `spreadWindow` changes, a few numbers.
 */
export interface LikelihoodOptions {
  /** Raw scores averaged for the short-term level. Default 20. */
  shortWindow: number;
  /** Windows the long-term statistics and error histograms remember (exponential forgetting). Default 5000. */
  longWindow: number;
  /**
   * Errors of a kind a stream needs before they score, and readings before its ranges judge (a fresh
   * range's first records are ordinary). Default 200.
   */
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
  /**
   * Chance of a range exit under the stream's record history from which it alerts (scaled onto
   * `alertTail`, so the score is graded). Default 0.1.
   */
  rangeTail: number;
  /**
   * Readings over which a stream with no record yet is given one (the prior of its record rate):
   * 1 trusts the first records of a fresh range least. Default 1.
   */
  recordHorizon: number;
  /**
   * Windows over which the one-step prediction error's local level (its running geometric mean)
   * is taken for the peak check; 0 turns the check off. Default 32.
   */
  peakWindow: number;
  /**
   * The alert's chance, under the stream's peaks over threshold (peaks.ts), of a one-step prediction
   * error this far above its local level (scaled onto `alertTail`); a peak this improbable is kept
   * out of the stream's peaks, so a repeated spike alerts as the first did. Default 1e-5.
   */
  peakTail: number;
  /**
   * How many times its local level (the running geometric mean over `peakWindow` windows) the
   * window's reconstruction error must reach for a peak alert weaker than `corroborateBelow` to page:
   * a spike stands out in its whole window, while a forecast gone wrong (a random walk turning, a
   * noisy reading) leaves the window's reconstruction as it was. ≤ 1: off. Default 20.
   */
  peakCorroboration: number;
  /** Alert score from which a peak alert pages without that corroboration. Default 0.8. */
  corroborateBelow: number;
  /**
   * The peak check's tail from which a corroborated peak (the window's reconstruction error at
   * `peakCorroboration` times its level or more) alerts: two signs agreeing need less of each.
   * `peakTail`: no easier than an uncorroborated one. Default 1e-4.
   */
  corroboratedTail: number;
  /**
   * The alert's chance of a range or spread exit under the stream's record history (stricter than
   * `rangeTail`, which grades the score): an exit that only a stream seldom setting records makes
   * improbable, such as a noisy sensor's new high, raises the score but pages no one. Default 1e-4.
   */
  alertRangeTail: number;
  /**
   * The alert's Gaussian tail of the errors' short-term level (stricter than `alertTail`, which
   * grades the score: Numenta's Gaussian tail understates how often a stream's errors rise for a
   * while). Default 1e-9.
   */
  alertLevelTail: number;
  /**
   * Readings before the alert weighs a value's range exit (the score waits `warmup`): until then an
   * exit is judged against the prior of one record per `recordHorizon` readings, so only a reading
   * far past a fresh range alerts. Default 50.
   */
  alertWarmup: number;
  /**
   * Earlier events on an even grid (t - L, t - 2L, …; L at least `shortWindow` windows) that make an
   * alert routine, not news: a daily job's spike pages its first times, then no more
   * (recurrence.ts); 0 turns the rule off. Default 3.
   */
  recurrences: number;
  /**
   * How far each earlier event may fall from its grid point, as a fraction of L (a daily job that
   * drifts by half an hour: 0.02). Default 0.02.
   */
  recurrenceJitter: number;
  /** Tail probability from which a window alerts. Default 1e-5. */
  alertTail: number;
  /** Tail probability reported at most by an alert within the cool-down of the last. Default 1e-3. */
  afterAlertTail: number;
  /** Windows after an alert whose alerts report at most `afterAlertTail` (1: a run of alerts). Default 1. */
  coolDown: number;
  /**
   * The score's hysteresis: after an alert the stream stays in an alert episode while its windows'
   * tail stays at or below this, and a new alert within the episode reports at most
   * `afterAlertTail` (the score only; the alert has its own cool-down). `alertTail`: an episode is a
   * run of alerts. Default 0.1 (until the stream's errors are back to ordinary).
   */
  scoreHold: number;
  /** How the two surprises combine into the raw score. Default `max`. */
  combine: 'max' | 'mean';
  /** Streams whose state is kept (least recently scored dropped first). Default 100000. */
  maxStreams: number;
}

export const LIKELIHOOD_DEFAULTS: LikelihoodOptions = {
  shortWindow: 20,
  longWindow: 5000,
  warmup: 200,
  rangeMargin: 0.05,
  spreadWindow: 30,
  rangeTail: 0.1,
  recordHorizon: 1,
  alertRangeTail: 1e-4,
  alertLevelTail: 1e-9,
  alertWarmup: 50,
  peakWindow: 32,
  peakTail: 1e-5,
  peakCorroboration: 20,
  corroborateBelow: 0.8,
  corroboratedTail: 1e-4,
  recurrences: 3,
  recurrenceJitter: 0.02,
  alertTail: 1e-5,
  afterAlertTail: 1e-3,
  coolDown: 1,
  scoreHold: 0.1,
  combine: 'max',
  maxStreams: 100_000,
};

/**
 * The range checks' chance for the score (1 when nothing left a range) and for the alert (the value
 * range's early chance included, a spread's only once the spreads' history is learnt), and the range
 * behind each.
 */
interface RangeChance {
  q: number;
  reason: AlertReason;
  page: number;
  pageReason: AlertReason;
}

/** How unusual the errors' short-term level is (its Gaussian tail), and the error kind that weighs more in it. */
interface LevelTail {
  tail: number;
  reason: AlertReason;
}

/** The state that rests on the stream's model: its errors' history, level and peaks. */
const MODEL_FIELDS = [
  'reconstruction',
  'prediction',
  'recent',
  'recentKinds',
  'recentAt',
  'recentCount',
  'n',
  'mean',
  'variance',
  'level',
  'lastLog',
  'levelCount',
  'peaks',
  'recLevel',
  'recCount',
] as const satisfies readonly (keyof StreamState)[];

interface StreamState {
  reconstruction: ErrorRanks;
  prediction: ErrorRanks;
  /** The last `shortWindow` raw scores and each kind's surprise in them (rings from `recentAt`). */
  recent: Float64Array;
  recentKinds: [Float64Array, Float64Array];
  recentAt: number;
  recentCount: number;
  /** Long-term mean and variance of the short-term average (Welford, then exponential). */
  n: number;
  mean: number;

  variance: number;
  /** Readings seen (with a finite value). */
  seen: number;
  /** The record history of the values: the score's, and the alert's (a spike held out of its range). */
  values: RecordRange;
  alertValues: RecordRange;
  last: number;
  /**
   * The last `spreadWindow` absolute changes (a ring), and the record history of their mean: the
   * score's, and the alert's (one spread in `spreadWindow` learnt, against the spreads it does not
   * overlap).
   */
  changes: Float64Array;
  spreads: RecordRange;
  alertSpreads: RecordRange;
  /**
   * The prediction error's local level (running mean of its log), its last log, and its peaks above
   * the larger of the two.
   */
  level: number;
  lastLog: number;
  levelCount: number;
  peaks: PeakTail;
  /** The reconstruction error's local level (running mean of its log) and the errors in it. */
  recLevel: number;
  recCount: number;
  /**
   * Windows since the last score past `alertTail` and since the last alert (the cool-downs), the
   * last alert score and the check behind it (null when the window is no alert).
   */
  sinceAlert: number;
  sincePage: number;
  /** Whether the peak check was an alert in the last alert window. */
  peakPaged: boolean;
  /**
   * Windows scored, the starts of the alert's events (runs of windows its checks would page), and
   * whether the last window was in one.
   */
  windows: number;
  events: Recurrence;
  inEvent: boolean;
  /** Whether the last window would have paged but for its event's schedule. */
  routine: boolean;
  /** Whether the score's last window was in an alert episode (`scoreHold`). */
  episode: boolean;
  alertScore: number;
  reason: AlertReason | null;
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

/**
 * The log of an error within the histograms' span (1e-8 … 1e6): a model whose training windows were
 * flat gives errors of 0 and 1e16, whose ratios say nothing.
 */
function errorLog(e: number): number {
  return Math.log(Math.min(Math.max(e, 1e-8), 1e6));
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

  /**
   * A new model version scores the stream: its errors start a history of their own (after `warmup`
   * of them they judge again); the stream's ranges and spreads, which do not depend on the model,
   * are kept.
   */
  modelChanged(streamId: string): void {
    const s = this.streams.get(streamId);
    if (!s) return;
    const fresh = this.fresh();
    for (const k of MODEL_FIELDS) Object.assign(s, { [k]: fresh[k] });
  }

  reasonOf(streamId: string): AlertReason | null {
    return this.streams.get(streamId)?.reason ?? null;
  }

  routineOf(streamId: string): boolean {
    return this.streams.get(streamId)?.routine ?? false;
  }

  alertScoreOf(streamId: string): number | undefined {
    return this.streams.get(streamId)?.alertScore;
  }

  score(errors: WindowErrors, _stats: ErrorStats | undefined, context?: ScoringContext): number {
    const o = this.options;
    const s = this.state(context?.streamId ?? '');
    const range = this.rangeChecks(s, context?.value);
    const peak = this.peakCheck(s, errors.predictionError);
    const jump = this.reconstructionJump(s, errors.reconstructionError);
    const level = this.errorTail(s, errors);
    // A range exit's chance scaled so that `rangeTail` meets `alertTail`: one threshold for all.
    const rangeScaled = range.q < 1 ? (range.q * o.alertTail) / o.rangeTail : 1;
    const tail = Math.min(level.tail, rangeScaled);
    // The alert: the same checks judged strictly, and the peak check.
    const peakTail = this.corroborated(peak, jump);
    const checks: [number, AlertReason][] = [
      [(level.tail * o.alertTail) / o.alertLevelTail, level.reason],
      [(range.page * o.alertTail) / o.alertRangeTail, range.pageReason],
      [peakTail, 'prediction'],
    ];
    const [checked, pageReason] = checks.reduce((a, b) => (b[0] < a[0] ? b : a));
    const pageTail = this.routine(s, checked);
    const page = pageTail <= o.alertTail;
    s.reason = page ? pageReason : null;
    s.alertScore = tailScore(this.coolDown(s, pageTail, page && peakTail <= o.alertTail));
    return tailScore(this.scoreEpisode(s, tail));
  }

  /**
   * The score's cool-down, with hysteresis: an alert within `coolDown` windows of the last alert,
   * or while the stream is in an alert episode (an alert, then windows whose tail stays at or below
   * `scoreHold`), reports at most the after-alert level. An anomaly's errors stay high for a while
   * and their level crosses the alert line more than once; only its first crossing is news.
   */
  private scoreEpisode(s: StreamState, tail: number): number {
    const o = this.options;
    const alert = tail <= o.alertTail;
    const held = s.episode || s.sinceAlert < Math.max(1, o.coolDown);
    s.sinceAlert = alert ? 0 : s.sinceAlert + 1;
    s.episode = alert || (s.episode && tail <= o.scoreHold);
    return alert && held ? Math.max(tail, o.afterAlertTail) : tail;
  }

  /**
   * The alert's tail after the schedule check: an event (a run of windows the checks would page)
   * whose start falls on a grid of earlier ones is routine, and reports at most the after-alert level
   * for as long as it lasts.
   */
  private routine(s: StreamState, tail: number): number {
    const o = this.options;
    const t = s.windows++;
    const event = tail <= o.alertTail;
    // Each window of an event is judged on its own (a burst inside a routine one is news).
    s.routine = event && s.events.recurs(t);
    if (event && !s.inEvent) s.events.add(t);
    s.inEvent = event;
    return s.routine ? Math.max(tail, o.afterAlertTail) : tail;
  }

  /**
   * The alert's cool-down: within `coolDown` windows of an alert (a run of alerts included), a
   * window reports at most the after-alert level (a detection is worth the most early in an
   * anomaly; repeats only cost). A peak is news of its own, though, inside a run of the other
   * checks' alerts: a spike keeps the spreads and the errors' level up for a while, and a second
   * spike in that while is a second event.
   */
  private coolDown(s: StreamState, tail: number, peak: boolean): number {
    const o = this.options;
    const alert = tail <= o.alertTail;
    const cooling = s.sincePage < Math.max(1, o.coolDown) && !(peak && !s.peakPaged);
    s.sincePage = alert ? 0 : s.sincePage + 1;
    if (alert) s.peakPaged = peak;
    return alert && cooling ? Math.max(tail, o.afterAlertTail) : tail;
  }

  private state(id: string): StreamState {
    let s = this.streams.get(id);
    if (!s) this.streams.set(id, (s = this.fresh()));
    return s;
  }

  private fresh(): StreamState {
    const o = this.options;
    const decay = 1 / o.longWindow;
    return {
      reconstruction: new ErrorRanks(decay),
      prediction: new ErrorRanks(decay),
      recent: new Float64Array(Math.max(1, o.shortWindow)),
      recentKinds: [
        new Float64Array(Math.max(1, o.shortWindow)),
        new Float64Array(Math.max(1, o.shortWindow)),
      ],
      recentAt: 0,
      recentCount: 0,
      n: 0,
      mean: 0,

      variance: 0,
      seen: 0,
      values: new RecordRange(o.rangeMargin, decay, o.recordHorizon),
      alertValues: new RecordRange(o.rangeMargin, decay, o.recordHorizon),
      last: NaN,
      changes: new Float64Array(Math.max(0, o.spreadWindow)),
      spreads: new RecordRange(o.rangeMargin, decay, o.recordHorizon),
      // A spread overlaps the spreadWindow - 1 before it: the history learns every spreadWindow-th.
      alertSpreads: new RecordRange(
        o.rangeMargin,
        decay * Math.max(1, o.spreadWindow),
        o.recordHorizon,
        Math.max(1, o.spreadWindow),
      ),
      level: 0,
      lastLog: -Infinity,
      levelCount: 0,
      peaks: new PeakTail(decay),
      recLevel: 0,
      recCount: 0,
      sinceAlert: Infinity,
      sincePage: Infinity,
      peakPaged: false,
      windows: 0,
      events: new Recurrence(o.recurrences, o.recurrenceJitter, Math.max(1, o.shortWindow)),
      inEvent: false,
      routine: false,
      episode: false,
      alertScore: 0,
      reason: null,
    };
  }

  /**
   * The Gaussian tail of the short-term mean surprise of the errors against its long-term mean and
   * variance, and which kind of error weighs more in it.
   */
  private errorTail(s: StreamState, errors: WindowErrors): LevelTail {
    const o = this.options;
    const kinds: (number | undefined)[] = [];
    const rank = (e: number | null | undefined, r: ErrorRanks) => {
      if (e === undefined || e === null || !Number.isFinite(e)) return undefined;
      const warm = r.size >= o.warmup;
      const q = r.surpriseThenAdd(e);
      return warm ? q : undefined;
    };
    kinds.push(rank(errors.reconstructionError, s.reconstruction));
    kinds.push(rank(errors.predictionError, s.prediction));
    const ranks = kinds.filter((k): k is number => k !== undefined);
    let tail = 1;
    if (ranks.length === 0) return { tail, reason: 'reconstruction' };
    const raw =
      o.combine === 'max' ? Math.max(...ranks) : ranks.reduce((a, b) => a + b, 0) / ranks.length;
    s.recent[s.recentAt] = raw;
    s.recentKinds[0][s.recentAt] = kinds[0] ?? 0;
    s.recentKinds[1][s.recentAt] = kinds[1] ?? 0;
    s.recentAt = (s.recentAt + 1) % s.recent.length;
    s.recentCount = Math.min(s.recentCount + 1, s.recent.length);
    let sum = 0;
    let rec = 0;
    let pred = 0;
    for (let i = 0; i < s.recentCount; i++) {
      sum += s.recent[i]!;
      rec += s.recentKinds[0][i]!;
      pred += s.recentKinds[1][i]!;
    }
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
    return { tail, reason: pred > rec ? 'prediction' : 'reconstruction' };
  }

  /**
   * The peak check's tail for the alert: from `corroboratedTail` when the window's reconstruction
   * error jumped with the peak; at most the after-alert level when it did not and the peak is weaker
   * than `corroborateBelow`.
   */
  private corroborated(peak: number, jump: boolean | undefined): number {
    const o = this.options;
    if (peak >= 1) return 1;
    const tail = (peak * o.alertTail) / o.peakTail;
    if (jump === undefined) return tail;
    if (jump) return (peak * o.alertTail) / Math.max(o.peakTail, o.corroboratedTail);
    if (tail > o.alertTail || tail <= Math.pow(1e-10, o.corroborateBelow)) return tail;
    return Math.max(tail, o.afterAlertTail);
  }

  /**
   * Whether the reconstruction error reached `peakCorroboration` times its local level (undefined
   * with the check off, without a reconstruction error, or while fewer than `peakWindow` are in:
   * peaks then page on their own tail), then the level learns.
   */
  private reconstructionJump(s: StreamState, e: number | null | undefined): boolean | undefined {
    const o = this.options;
    if (o.peakCorroboration <= 1) return undefined;
    if (e === undefined || e === null || !Number.isFinite(e)) return undefined;
    const log = errorLog(e);
    const window = Math.max(1, o.peakWindow);
    const out =
      s.recCount >= window ? Math.exp(log - s.recLevel) >= o.peakCorroboration : undefined;
    s.recCount++;
    s.recLevel += (log - s.recLevel) / Math.min(s.recCount, window);
    return out;
  }

  /**
   * The chance, under the stream's peaks, of the prediction error's ratio to its local level or to
   * the last error, whichever is larger: a spike the model did not foresee stands out from the errors
   * just before it, however well or badly the model fits the stream at the time, while errors that
   * grow over several windows (a model leaving the range it was trained on) or that follow a spike
   * (the model's input holds it) do not. Then the level and the peaks learn.
   */
  private peakCheck(s: StreamState, e: number | null | undefined): number {
    const o = this.options;
    if (o.peakWindow <= 0 || e === undefined || e === null || !Number.isFinite(e)) return 1;
    const log = errorLog(e);
    let q = 1;
    if (s.levelCount >= o.peakWindow) {
      const ratio = Math.min(Math.exp(log - Math.max(s.level, s.lastLog)), 1e6);
      q = s.peaks.judgeThenAdd(ratio, s.levelCount >= o.warmup, o.peakTail);
    }
    s.lastLog = log;
    s.levelCount++;
    s.level += (log - s.level) / Math.min(s.levelCount, o.peakWindow);
    return q;
  }

  /**
   * The chance, under the stream's record history, of `value` leaving the range of values seen, or
   * of the local spread it makes leaving the range of spreads seen (once `warmup` readings are in);
   * the smaller of the two and its check, for the score and for the alert (whose own ranges hold a
   * spike out and judge spreads against those they do not overlap). Then every history learns.
   */
  private rangeChecks(s: StreamState, value: number | undefined): RangeChance {
    const none: RangeChance = { q: 1, reason: 'range', page: 1, pageReason: 'range' };
    if (value === undefined || !Number.isFinite(value)) return none;
    const o = this.options;
    const warm = s.seen >= o.warmup && o.rangeMargin > 0;
    // Before the range judges, the alert already weighs an exit against the prior record rate.
    const early =
      !warm && o.rangeMargin > 0 && s.seen >= o.alertWarmup ? s.values.chanceOf(value) : 1;
    const q = s.values.judgeThenAdd(value, warm);
    // The alert's values: a reading that pages stays out of their range unless the next one exits too.
    const page = s.alertValues.judgeThenAdd(value, warm, 0, o.alertRangeTail);
    const out: RangeChance = {
      q,
      reason: 'range',
      page: Math.min(page, early),
      pageReason: 'range',
    };
    if (o.spreadWindow > 0 && s.seen > 0) {
      // Change i goes to slot i mod spreadWindow; the mean is over a full ring only.
      s.changes[(s.seen - 1) % o.spreadWindow] = Math.abs(value - s.last);
      if (s.seen >= o.spreadWindow) {
        let sum = 0;
        for (let i = 0; i < o.spreadWindow; i++) sum += s.changes[i]!;
        const spread = sum / o.spreadWindow;
        // The spreads' own range needs `warmup` spreads before it judges.
        const spreadsWarm = warm && s.seen >= o.spreadWindow + o.warmup;
        const q = s.spreads.judgeThenAdd(spread, spreadsWarm);
        if (q < out.q) Object.assign(out, { q, reason: 'spread' });
        // The alert's spreads: an exit at or below rangeTail stays out of their history (it may be
        // a stuck sensor's, on its way down); with one spread in spreadWindow learnt, they page
        // once they have judged `warmup` readings.
        const page = s.alertSpreads.judgeThenAdd(spread, spreadsWarm, o.rangeTail);
        if (page < out.page && s.seen >= o.spreadWindow + 2 * o.warmup)
          Object.assign(out, { page, pageReason: 'spread' });
      }
    }
    s.last = value;
    s.seen++;
    return out;
  }
}
