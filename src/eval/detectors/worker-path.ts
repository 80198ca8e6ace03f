import { initBackend, scoringEngine, type BackendInfo } from '../../backend/index.js';
import type { SeqaeConfig } from '../../config/index.js';
import type { Window } from '../../contracts/window.js';
import { SequenceAutoencoder, type InferenceEngineOptions } from '../../model/index.js';
import { loadModelVersion, type LoadedModel } from '../../scoring/model-cache.js';
import {
  modelDefaults,
  modelInputFor,
  trainOnWindows,
  versionMeta,
} from '../../training/training.js';
import { anomalyScoring, WindowScorer } from '../../scoring/window-scorer.js';
import type { FileDetector, FileStep } from '../detector.js';
import { fileWindows, nabStreamId, rowScores, warmupFor } from '../nab/stream.js';

/** What the evaluation adds to the worker's settings. */
export interface WorkerPathOptions {
  /**
   * The part of the probationary period the first training may use: it takes the first
   * min(SEQAE_WARMUP_WINDOWS, floor(probation × trainFraction)) windows; the rest of probation gives
   * the scoring errors the model did not train on. Default 0.5.
   */
  trainFraction: number;
}

export const WORKER_PATH_DEFAULTS: WorkerPathOptions = { trainFraction: 0.5 };

/**
 * A stream's first model version as a worker makes it: `trainOnWindows` on its first windows with the
 * worker's model and training settings (from scratch), the artifact saved and loaded back with the
 * worker's inference engine, as a ModelCache loads a published version.
 */
export async function trainFirstVersion(
  config: SeqaeConfig,
  streamId: string,
  windows: readonly Window[],
  engine: InferenceEngineOptions,
  onEpoch?: (epoch: number, epochs: number) => void,
): Promise<LoadedModel> {
  const model = SequenceAutoencoder.create(
    modelInputFor(windows, modelDefaults(config.worker.model)),
  );
  try {
    const trained = await trainOnWindows(model, windows, config.worker.training, {
      onEpoch: (p) => onEpoch?.(p.epoch, p.epochs),
    });
    const meta = {
      modelId: streamId,
      version: 1,
      ...versionMeta(model, trained, { from: 'scratch' }),
    };
    return await loadModelVersion({ meta, artifact: Buffer.from(await model.save()) }, engine);
  } finally {
    model.dispose();
  }
}

/**
 * Scores a stream's windows in order with a WindowScorer over one loaded model, as a worker drains a
 * stream's held windows (slices of SEQAE_BATCH_MAX): the score of each window by seq.
 */
export async function scoreInOrder(
  config: SeqaeConfig,
  loaded: LoadedModel,
  windows: readonly Window[],
  onScored?: (done: number) => void,
): Promise<Map<number, number>> {
  const scorer = new WindowScorer(
    { use: (_modelId, fn) => fn(loaded) },
    anomalyScoring(config.worker.anomaly),
  );
  const chunk = config.worker.batchMax;
  const scores = new Map<number, number>();
  for (let i = 0; i < windows.length; i += chunk) {
    const result = await scorer.score(loaded.modelId, windows.slice(i, i + chunk), chunk);
    for (const o of result!.outputs) scores.set(o.window.seq, o.score);
    onScored?.(Math.min(windows.length, i + chunk));
  }
  return scores;
}

/**
 * The `seqae` detector in-process: for each file, the producer's windows (SEQAE_WINDOW, …), the
 * worker's first training on the file's first windows (its warm-up, capped by the probationary
 * period), and every window scored in order through the worker's WindowScorer, its inference engine
 * (ONNX Runtime by default) and its anomaly scoring (SEQAE_ANOMALY_…). Rows that end no window get
 * the score of the row before them.
 */
export async function workerPathDetector(
  config: SeqaeConfig,
  options: Partial<WorkerPathOptions> = {},
): Promise<FileDetector & { backend: BackendInfo }> {
  const o = { ...WORKER_PATH_DEFAULTS, ...options };
  const backend = await initBackend(config.backend);
  const engine = { kind: scoringEngine(backend), threads: config.worker.onnxThreads };
  return {
    name: 'seqae',
    backend,
    async scoreFile(file, info, onStep?: (step: FileStep) => void) {
      const streamId = nabStreamId('nab/', file.name);
      const { windows, rowOfSeq } = fileWindows(file, streamId, config.producer);
      const first = windows.slice(
        0,
        warmupFor(info.length, config.worker.warmupWindows, o.trainFraction),
      );
      const loaded = await trainFirstVersion(config, streamId, first, engine, (done, total) =>
        onStep?.({ phase: 'training (epochs)', done, total }),
      );
      try {
        const scores = await scoreInOrder(config, loaded, windows, (done) =>
          onStep?.({ phase: 'scoring (windows)', done, total: windows.length }),
        );
        return rowScores(info.length, rowOfSeq, scores);
      } finally {
        loaded.engine.dispose();
        loaded.model.dispose();
      }
    },
  };
}
