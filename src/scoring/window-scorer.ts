import { LRUCache } from 'lru-cache';
import {
  windowExcess,
  LikelihoodScoring,
  type AlertDetail,
  type FeedbackMemory,
  trainingZScoring,
  type AnomalyScoring,
} from '../anomaly/index.js';
import type { SeqaeConfig } from '../config/index.js';
import { ValidationError } from '../errors/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import { toMatrix } from '../model/index.js';
import type { Suppression, WindowOutputs } from '../contracts/outputs.js';
import type { Window } from '../contracts/window.js';
import { featureErrors, forecastFeatureErrors, mean } from './feature-errors.js';
import type { LoadedModel, ModelCache } from './model-cache.js';

/** Where a scorer gets a model's loaded version: a ModelCache, or one model (seqae infer). */
export type ModelSource = Pick<ModelCache, 'use'>;

/** The anomaly scoring and alert threshold the settings (SEQAE_ANOMALY_…, SEQAE_ALERT_THRESHOLD) ask for. */
export function anomalyScoring(
  a: SeqaeConfig['worker']['anomaly'],
): Pick<ScoringOptions, 'anomaly' | 'alertThreshold'> {
  return {
    anomaly:
      a.scoring === 'likelihood'
        ? new LikelihoodScoring({
            shortWindow: a.shortWindow,
            warmup: a.warmup,
            rangeMargin: a.rangeMargin,
            spreadWindow: a.spreadWindow,
            rangeTail: a.rangeTail,
            recordHorizon: a.recordHorizon,
            peakWindow: a.peakWindow,
            peakTail: a.peakTail,
            peakCorroboration: a.peakCorroboration,
            corroborateBelow: a.corroborateBelow,
            corroboratedTail: a.corroboratedTail,
            recurrences: a.recurrences,
            recurrenceJitter: a.recurrenceJitter,
            alertRangeTail: a.alertRangeTail,
            alertLevelTail: a.alertLevelTail,
            alertWarmup: a.alertWarmup,
            coolDown: a.coolDown,
            scoreHold: a.scoreHold,
          })
        : trainingZScoring,
    alertThreshold: a.alertThreshold,
  };
}

export interface ScoringOptions {
  /** Turns a window's errors into its anomaly score (the worker's: SEQAE_ANOMALY_SCORING). */
  anomaly: AnomalyScoring;
  /** Score from which a window is an alert (SEQAE_ALERT_THRESHOLD). */
  alertThreshold: number;
  /** Streams whose last forecast is remembered for the one-step prediction error. Default 10000. */
  forecastMemory?: number;
  /** Operators' false-alarm marks: a would-be alert like a marked one is no alert. */
  feedback?: FeedbackMemory;
  metrics?: WorkerMetrics;
}

export interface ScoreResult {
  outputs: WindowOutputs[];
  /** Windows this model cannot score (wrong length or number of features), with the reason. */
  rejected: { window: Window; error: ValidationError }[];
}

/**
 * Scores windows with their model: the model version's inference engine gives reconstruction,
 * prediction and embedding, the anomaly scoring turns their errors into a score.
 * The one-step prediction error of a window is the error of the forecast made from the window just
 * before it (seq - 1) when this worker scored that one (in the same batch or recently); else null.
 */
export class WindowScorer {
  private readonly anomaly: AnomalyScoring;
  private readonly forecasts: LRUCache<string, { seq: number; version: string; row: number[] }>;
  /** The model version that last scored each stream. */
  private readonly versions: LRUCache<string, string>;

  constructor(
    private readonly cache: ModelSource,
    private readonly options: ScoringOptions,
  ) {
    this.anomaly = options.anomaly;
    this.forecasts = new LRUCache({ max: Math.max(1, options.forecastMemory ?? 10_000) });
    this.versions = new LRUCache({ max: Math.max(1, options.forecastMemory ?? 10_000) });
  }

  /** Outputs for windows of one model in chunks of `chunk`; undefined when the model has no version. */
  async score(
    modelId: string,
    windows: readonly Window[],
    chunk: number,
  ): Promise<ScoreResult | undefined> {
    return this.cache.use(modelId, async (loaded) => {
      const result: ScoreResult = { outputs: [], rejected: [] };
      const { nIn, features } = loaded.model.config;
      const fit: Window[] = [];
      for (const w of windows) {
        const width = w.values[0]?.length ?? 0;
        if (w.values.length !== nIn || width !== features) {
          const error = new ValidationError(
            `window ${w.streamId}:${w.seq} is ${w.values.length}×${width}, model ${modelId} takes ${nIn}×${features}`,
            'shape_mismatch',
          );
          result.rejected.push({ window: w, error });
        } else fit.push(w);
      }
      // In seq order per stream, so a window's forecast is known before its successor is scored.
      fit.sort((a, b) =>
        a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : a.seq - b.seq,
      );
      for (let i = 0; i < fit.length; i += chunk) {
        result.outputs.push(...(await this.scoreChunk(loaded, fit.slice(i, i + chunk))));
      }
      return result;
    });
  }

  private async scoreChunk(loaded: LoadedModel, windows: Window[]): Promise<WindowOutputs[]> {
    const { model, engine, meta } = loaded;
    const { nIn, nOut, features, predictionTarget } = model.config;
    const stop = this.options.metrics?.inferenceDuration.startTimer();
    const r = await engine.infer(
      windows.map((w) => w.values),
      { batchSize: windows.length },
    );
    stop?.();
    this.options.metrics?.inferenceBatchSize.observe(windows.length);
    const scale = model.normalisation.scale;
    const version = `${loaded.modelId}@${loaded.version}`;
    return windows.map((w, i) => {
      const scoredBy = this.versions.get(w.streamId);
      if (scoredBy !== version) {
        if (scoredBy !== undefined) this.anomaly.modelChanged?.(w.streamId);
        this.versions.set(w.streamId, version);
      }
      const reconstruction = r.reconstruction
        ? toMatrix(r.reconstruction, i, nIn, features)
        : undefined;
      const prediction = r.prediction ? toMatrix(r.prediction, i, nOut, features) : undefined;
      let predictionError: number | null = null;
      let predictionTerms: number[] | null = null;
      if (prediction && predictionTarget === 'next') {
        const last = w.values[nIn - 1]!;
        const before = this.forecasts.get(w.streamId);
        if (before && before.seq === w.seq - 1 && before.version === version) {
          predictionTerms = forecastFeatureErrors(before.row, last, scale);
          predictionError = mean(predictionTerms);
        }
        this.forecasts.set(w.streamId, { seq: w.seq, version, row: prediction[nOut - 1]! });
      }
      const reconstructionError = r.reconstructionError ? r.reconstructionError[i]! : null;
      const score = this.anomaly.score(
        { reconstructionError: reconstructionError ?? undefined, predictionError },
        meta.errorStats,
        { streamId: w.streamId, value: w.values[nIn - 1]![0] },
      );
      if (reconstructionError !== null)
        this.options.metrics?.reconstructionError.observe(reconstructionError);
      const reason = this.anomaly.reasonOf?.(w.streamId) ?? null;
      const ownAlertScore = this.anomaly.alertScoreOf?.(w.streamId);
      const alertScore = ownAlertScore ?? score;
      const suppressed = this.suppression(w, alertScore, {
        score,
        reason,
        reconstructionError,
        predictionError,
      });
      const alert = alertScore >= this.options.alertThreshold && !suppressed;
      this.options.metrics?.observeAnomalyScore(w.streamId, score, alert);
      const reconstructionTerms = r.featureErrors
        ? toMatrix(r.featureErrors, i, 1, features)[0]!
        : null;
      return {
        window: w,
        modelId: loaded.modelId,
        modelVersion: loaded.version,
        reconstruction,
        prediction,
        embedding: toMatrix(r.embedding, i, 1, model.config.units)[0]!,
        score,
        alert,
        ...(ownAlertScore !== undefined && { alertScore: ownAlertScore }),
        reconstructionError,
        predictionError,
        scorer: this.anomaly.name,
        reason,
        featureErrors: featureErrors(reconstructionTerms, predictionTerms, reason),
        ...(suppressed && { suppressed }),
      };
    });
  }

  /**
   * Why a would-be alert is none: its event is routine (the scoring's schedule check, which has
   * already kept its alert score low), or an operator marked a false alarm like it on the stream.
   */
  private suppression(
    w: Window,
    alertScore: number,
    d: Omit<AlertDetail, 'value' | 'excess'>,
  ): Suppression | undefined {
    if (this.anomaly.routineOf?.(w.streamId)) {
      this.options.metrics?.alertsSuppressed.inc({ cause: 'routine' });
      return 'routine';
    }
    if (alertScore >= this.options.alertThreshold && this.suppressedByFeedback(w, d))
      return 'feedback';
    return undefined;
  }

  /** Whether an operator marked a false alarm like this would-be alert on the same stream. */
  private suppressedByFeedback(w: Window, d: Omit<AlertDetail, 'value' | 'excess'>): boolean {
    const { feedback, metrics } = this.options;
    if (!feedback) return false;
    const detail = { ...d, value: w.values.at(-1)?.[0], excess: windowExcess(w.values) };
    if (!feedback.suppressing(w.streamId, detail)) return false;
    metrics?.alertsSuppressed.inc({ cause: 'feedback' });
    return true;
  }
}
