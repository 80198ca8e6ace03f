import type { Queue } from 'bullmq';
import { addTrainJob, type TrainJobData, type TrainJobResult } from '../../contracts/jobs.js';
import type { Window } from '../../contracts/window.js';
import type { ModelRegistry } from '../../model-registry/index.js';

/**
 * Explicit training requests onto `seqae-train` (normally stream workers decide when to train). A
 * request is the same job as a worker's: the training of the model's next version, so a repeated
 * request, or one that meets a worker's, trains that version once.
 */
export class TrainingRequests {
  constructor(
    readonly queue: Queue<TrainJobData, TrainJobResult>,
    private readonly registry: ModelRegistry,
  ) {}

  /** Asks for a model of `streamId` trained on `windows`; `modelId` defaults to the stream id. */
  requestTraining(streamId: string, windows: Window[], modelId = streamId): Promise<string> {
    return addTrainJob(this.queue, this.registry, {
      modelId,
      streamId,
      reason: 'request',
      windows,
    });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
