import { forecastError, logErrorStats, type ErrorStats } from '../anomaly/index.js';
import type { WorkerSettings } from '../config/index.js';
import { ValidationError } from '../errors/index.js';
import {
  SequenceAutoencoder,
  datasetFromWindows,
  resolveModelConfig,
  shapeKey,
  type Dataset,
  type EpochProgress,
  type ModelConfigInput,
  type TrainingSummary,
} from '../model/index.js';
import type { ModelMeta, ModelRegistry } from '../model-registry/index.js';
import type { TrainJobData, TrainJobResult, TrainingStart } from '../contracts/jobs.js';
import type { Window } from '../contracts/window.js';

/** Samples from a model's windows, stream by stream (seq numbers are per stream). */
export function datasetFromStreams(
  model: SequenceAutoencoder,
  windows: readonly Window[],
): Dataset {
  const { nIn, features } = model.config;
  const byStream = new Map<string, Window[]>();
  for (const w of windows) {
    if (w.values.length !== nIn || w.values[0]!.length !== features) continue;
    let list = byStream.get(w.streamId);
    if (!list) byStream.set(w.streamId, (list = []));
    list.push(w);
  }
  const parts: Dataset[] = [];
  for (const list of byStream.values()) {
    try {
      parts.push(datasetFromWindows(model.config, list));
    } catch (err) {
      if (!(err instanceof ValidationError && err.code === 'too_short')) throw err;
    }
  }
  if (parts.length === 0)
    throw new ValidationError('no stream has consecutive windows to train on', 'too_short');
  const count = parts.reduce((n, p) => n + p.count, 0);
  const concat = (pick: (d: Dataset) => Float32Array | undefined) => {
    if (!pick(parts[0]!)) return undefined;
    const out = new Float32Array(parts.reduce((n, p) => n + pick(p)!.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(pick(p)!, at);
      at += pick(p)!.length;
    }
    return out;
  };
  return {
    count,
    inputs: concat((d) => d.inputs)!,
    predictionTargets: concat((d) => d.predictionTargets),
  };
}

/** Error statistics of the trained model on its own training samples (for anomaly scores). */
export async function trainingErrorStats(
  model: SequenceAutoencoder,
  data: Dataset,
): Promise<ErrorStats> {
  const r = await model.infer(data.inputs);
  const stats: ErrorStats = {};
  if (r.reconstructionError) stats.reconstruction = logErrorStats(r.reconstructionError);
  if (r.prediction && data.predictionTargets && model.config.predictionTarget === 'next') {
    const { nOut, features } = model.config;
    const errors = new Float64Array(data.count);
    for (let s = 0; s < data.count; s++) {
      // The last row of each sample's prediction is its one-step forecast.
      const i = (s * nOut + nOut - 1) * features;
      errors[s] = forecastError(
        r.prediction.subarray(i, i + features),
        data.predictionTargets.subarray(i, i + features),
        model.normalisation.scale,
      );
    }
    stats.prediction = logErrorStats(errors);
  }
  return stats;
}

/** How a training starts and stops (the worker's `SEQAE_WARM_START…`, `SEQAE_VALIDATION_SPLIT`, …). */
export interface TrainingPlan {
  /** Start from the model's previous version, or else from the newest model of the same shape. */
  warmStart: boolean;
  /** Most epochs of a warm-started training. */
  warmStartEpochs: number;
  /** Newest part of the samples held out for early stopping (0: none). */
  validationSplit: number;
  /** Epochs without a better held-out loss before training stops (0: never stops early). */
  patience: number;
}

/**
 * The model a training starts with: with `plan.warmStart`, the weights of the model's own newest
 * version, or else of the newest model of the same shape (another stream's), fine-tuned; else new.
 */
async function startingModel(
  modelId: string,
  input: ModelConfigInput,
  registry: ModelRegistry,
  plan: TrainingPlan,
): Promise<{ model: SequenceAutoencoder; start: TrainingStart }> {
  const scratch = () => ({
    model: SequenceAutoencoder.create(input),
    start: { from: 'scratch' } as TrainingStart,
  });
  if (!plan.warmStart) return scratch();
  // The shape from the configuration alone: a model built only to be thrown away costs a warm start.
  const shape = shapeKey(resolveModelConfig(input));
  const own = await registry.get(modelId);
  const donor =
    own && shapeKey(resolveModelConfig(own.meta.config)) === shape
      ? own
      : await registry.newestOfShape(shape, modelId);
  if (!donor) return scratch();
  const model = await SequenceAutoencoder.warmStart(donor.artifact, {
    ...input,
    epochs: Math.min(plan.warmStartEpochs, resolveModelConfig(input).epochs),
  });
  return {
    model,
    start: { from: 'warm', modelId: donor.meta.modelId, version: donor.meta.version },
  };
}

/** What training a model on windows gave: its summary and error statistics. */
export interface Trained {
  samples: number;
  summary: TrainingSummary;
  errorStats: ErrorStats;
  /** The streams whose windows trained it (at most 1000). */
  streams: string[];
}

/** The model a worker trains for streams, from its settings (SEQAE_UNITS, SEQAE_EPOCHS, …). */
export function modelDefaults(m: WorkerSettings['model']): ModelConfigInput {
  return {
    variant: m.variant,
    units: m.units,
    epochs: m.epochs,
    batchSize: m.batchSize,
    learningRate: m.learningRate,
    normalisation: m.normalisation,
  };
}

/** The model configuration for `windows`: `defaults`, then `overrides`, then the newest window's shape. */
export function modelInputFor(
  windows: readonly Window[],
  defaults: ModelConfigInput,
  overrides: ModelConfigInput = {},
): ModelConfigInput {
  const newest = windows.at(-1);
  if (!newest) throw new ValidationError('no windows to train on', 'too_short');
  return {
    ...defaults,
    ...overrides,
    nIn: newest.values.length,
    features: newest.values[0]!.length,
  };
}

/**
 * Trains `model` on the windows of its shape (others are left out), the newest
 * `plan.validationSplit` of the samples held out to stop early, and measures its errors on them.
 */
export async function trainOnWindows(
  model: SequenceAutoencoder,
  windows: readonly Window[],
  plan: Pick<TrainingPlan, 'validationSplit' | 'patience'>,
  options: { onEpoch?: (p: EpochProgress) => void | Promise<void>; signal?: AbortSignal } = {},
): Promise<Trained> {
  const dataset = datasetFromStreams(model, windows);
  const summary = await model.train(dataset, {
    onEpoch: options.onEpoch,
    signal: options.signal,
    validationSplit: dataset.count >= 20 ? plan.validationSplit : 0,
    earlyStopping: plan.patience > 0 ? { patience: plan.patience } : undefined,
  });
  const errorStats = await trainingErrorStats(model, dataset);
  const streams = [...new Set(windows.map((w) => w.streamId))].slice(0, 1000);
  return { samples: dataset.count, summary, errorStats, streams };
}

/** The registry metadata of a version that `model` became by `trained`, from `start`. */
export function versionMeta(
  model: SequenceAutoencoder,
  trained: Trained,
  start: TrainingStart,
): Omit<ModelMeta, 'version' | 'modelId' | 'artifactSha256'> {
  return {
    variant: model.config.variant,
    config: { ...model.config },
    summary: trained.summary,
    streams: trained.streams,
    errorStats: trained.errorStats,
    start,
    createdAt: Date.now(),
  };
}

/**
 * Trains a model on windows and publishes it as the model's next version. The window shape (nIn,
 * features) comes from the newest window; windows of another shape are left out. The newest
 * `plan.validationSplit` of the samples is held out to stop early.
 */
export async function trainAndPublish(
  data: TrainJobData,
  windows: readonly Window[],
  defaults: ModelConfigInput,
  registry: ModelRegistry,
  plan: TrainingPlan,
  options: { onEpoch?: (p: EpochProgress) => void | Promise<void>; signal?: AbortSignal } = {},
): Promise<TrainJobResult> {
  if (windows.length === 0)
    throw new ValidationError(`model ${data.modelId}: no windows to train on`, 'too_short');
  const input = modelInputFor(windows, defaults, data.model);
  const { model, start } = await startingModel(data.modelId, input, registry, plan);
  try {
    const trained = await trainOnWindows(model, windows, plan, options);
    const { samples, summary, streams } = trained;
    const version = await registry.publish(
      data.modelId,
      await model.save(),
      versionMeta(model, trained, start),
    );
    await registry.rememberShape(shapeKey(model.config), data.modelId);
    return {
      modelId: data.modelId,
      version,
      variant: model.config.variant,
      samples,
      summary,
      streams,
      start,
    };
  } finally {
    model.dispose();
  }
}
