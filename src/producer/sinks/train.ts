import type { Queue } from 'bullmq';
import type { Window } from '../../contracts/window.js';

/**
 * Payload of a `seqae-train` job requested by a producer: a subset of the train workers' job contract
 * (src/worker/training.ts TrainJobData, which owns it) plus the stream it came from.
 */
export interface TrainRequest {
  modelId: string;
  streamId: string;
  reason: 'request';
  windows: Window[];
}

/** Explicit training requests onto `seqae-train` (normally stream workers decide when to train). */
export class TrainingRequests {
  constructor(
    readonly queue: Queue,
    private readonly options: { jobName?: string; attempts?: number } = {},
  ) {}

  /**
   * Asks for a model of `streamId` trained on `windows`; `modelId` defaults to the stream id. The
   * jobId `train@<modelId>@<seq of the last window>` makes a repeated request for the same data one job.
   */
  async requestTraining(streamId: string, windows: Window[], modelId = streamId): Promise<string> {
    const last = windows.at(-1)?.seq ?? 0;
    const jobId = `train@${modelId}@${last}`;
    const data: TrainRequest = { modelId, streamId, reason: 'request', windows };
    await this.queue.add(this.options.jobName ?? 'train', data, {
      jobId,
      attempts: this.options.attempts ?? 2,
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
    });
    return jobId;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
