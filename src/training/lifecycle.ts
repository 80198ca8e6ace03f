import type { Queue } from 'bullmq';
import type { WorkerSettings } from '../config/index.js';
import type { ModelRegistry } from '../model-registry/index.js';
import { addTrainJob, type TrainJobData, type TrainJobResult } from '../contracts/jobs.js';
import type { Window } from '../contracts/window.js';
import { deadLetter, type DeadLetter } from '../contracts/dead-letter.js';
import type { WindowStore } from './window-store.js';

/** A model's windows held for scoring, and recorded since its last training request. */
export interface RecordCounts {
  pending: number;
  seen: number;
}

/**
 * A model's lifecycle on its streams, shared by the stream and infer workers: remember the windows a
 * model sees, hold the ones it cannot score yet, and ask for training after warm-up and every
 * `retrainEvery` windows. Each version is trained by one job, however many workers ask at once
 * (`addTrainJob`, src/contracts/jobs.ts).
 */
export class ModelLifecycle {
  constructor(
    private readonly settings: WorkerSettings,
    private readonly store: WindowStore,
    private readonly registry: ModelRegistry,
    private readonly trainQueue: Queue<TrainJobData, TrainJobResult>,
  ) {}

  /** The model that scores a stream: its own, or the configured shared one. */
  modelFor(streamId: string): string {
    return this.settings.modelGroup ?? streamId;
  }

  /**
   * Records windows of `modelId` for training. `hasModel` says whether the model had a version to
   * score them with; `hold` keeps them (in Redis) to be scored once the first version exists. Returns
   * dead letters for windows that could not be held.
   */
  async record(
    modelId: string,
    windows: readonly Window[],
    { hasModel, hold }: { hasModel: boolean; hold: boolean },
  ): Promise<DeadLetter[]> {
    const { pending, seen, overflow } = await this.store.add(modelId, windows, hold);
    await this.decide(modelId, { pending, seen }, hasModel);
    const full = {
      code: 'pending_full',
      message: `model ${modelId} holds ${this.settings.pendingLimit} windows waiting to be scored already (no version yet, or its drain behind)`,
    };
    return overflow.map((w) => deadLetter(full, `model:${modelId}`, w));
  }

  /**
   * The windows of several models recorded for training, none held, in one Redis round trip
   * (`WindowStore.addMany`): each model's counts (or Redis' error for that model), for `decide` once
   * it is known whether the model had a version to score them with.
   */
  recordMany(
    batch: readonly { modelId: string; windows: readonly Window[] }[],
  ): Promise<(RecordCounts | Error)[]> {
    return this.store.addMany(batch);
  }

  /** Asks for training after warm-up (no version yet) or every `retrainEvery` windows. */
  async decide(modelId: string, { pending, seen }: RecordCounts, hasModel: boolean): Promise<void> {
    if (!hasModel && Math.max(pending, seen) >= this.settings.warmupWindows) {
      await this.requestTraining(modelId, 'warmup');
    }
    if (hasModel && this.settings.retrainEvery > 0 && seen >= this.settings.retrainEvery) {
      await this.requestTraining(modelId, 'retrain');
    }
  }

  /** Enqueues the training of the model's next version (a no-op when that job exists already). */
  async requestTraining(
    modelId: string,
    reason: TrainJobData['reason'],
    extra: Partial<TrainJobData> = {},
  ): Promise<string> {
    const jobId = await addTrainJob(this.trainQueue, this.registry, { modelId, reason, ...extra });
    await this.store.resetSeen(modelId);
    return jobId;
  }
}
