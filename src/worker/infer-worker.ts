import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeWorker } from './close.js';
import type { SeqaeConfig } from '../config/index.js';
import { SeqaeError } from '../errors/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import { INFER_JOB_NAME, type InferJobResult } from '../contracts/jobs.js';
import { outputPayloads } from '../contracts/outputs.js';
import { tryParseWindow, windowLimits } from '../contracts/window.js';
import type { ModelLifecycle } from './lifecycle.js';
import type { OutputPublisher } from './publisher.js';
import { ScoreBatcher } from './score-batcher.js';
import type { WindowScorer } from './window-scorer.js';

export interface InferWorkerDeps {
  config: SeqaeConfig;
  connection: Redis;
  scorer: WindowScorer;
  lifecycle: ModelLifecycle;
  publisher?: OutputPublisher;
  metrics?: WorkerMetrics;
}

/**
 * The BullMQ side of scoring: each `seqae-infer` job is one window. An invalid window fails its job
 * at once with the reason (no retry can fix it); a window whose model has no version yet is recorded
 * for training and fails retriably, so the job's backoff brings it back once the model exists.
 */
export class InferWorker {
  readonly worker: Worker<unknown, InferJobResult>;
  /** The jobs running at once (SEQAE_CONCURRENCY) share model calls and output sends. */
  private readonly batcher: ScoreBatcher;

  constructor(private readonly deps: InferWorkerDeps) {
    const { config } = deps;
    this.batcher = new ScoreBatcher(deps.scorer, deps.publisher, {
      chunk: config.worker.batchMax,
      publish: config.worker.inferPublish,
    });
    this.worker = new Worker(config.queues.infer, (job) => this.process(job), {
      connection: deps.connection,
      prefix: config.queues.prefix,
      concurrency: config.worker.concurrency,
      autorun: false,
    });
    this.worker.on('completed', (job) => this.count(job, 'completed'));
    this.worker.on('failed', (job) => job && this.count(job, 'failed'));
  }

  start(): void {
    void this.worker.run();
  }

  /** Lets running jobs finish until `deadlineMs`, then hands them back; true when it had to. */
  stop(deadlineMs: number): Promise<boolean> {
    return closeWorker(this.worker, deadlineMs);
  }

  private count(job: Job, status: 'completed' | 'failed'): void {
    const { metrics, config } = this.deps;
    metrics?.jobs.inc({ queue: config.queues.infer, type: job.name, status });
    if (job.finishedOn && job.processedOn) {
      metrics?.jobDuration.observe(
        { queue: config.queues.infer, type: job.name },
        (job.finishedOn - job.processedOn) / 1000,
      );
    }
  }

  private async process(job: Job<unknown, InferJobResult>): Promise<InferJobResult> {
    const { lifecycle, metrics, config } = this.deps;
    if (job.name !== INFER_JOB_NAME)
      throw new UnrecoverableError(`unknown_job: "${job.name}" is not a job of this queue`);
    const parsed = tryParseWindow(job.data, windowLimits(config.maxWindowValues));
    if (!parsed.ok) throw new UnrecoverableError(`${parsed.error.code}: ${parsed.error.message}`);
    const window = parsed.value;
    metrics?.windowsConsumed.inc({ source: 'bullmq' });
    const modelId = lifecycle.modelFor(window.streamId);
    // Scored (and its outputs published) with the other jobs running now.
    const result = await this.batcher.score(modelId, [window]);
    // Recorded once per job (not per retry); not held, since the job itself comes back for its outputs.
    if (job.attemptsMade === 0)
      await lifecycle.record(modelId, [window], { hasModel: result !== undefined, hold: false });
    if (!result) {
      throw new SeqaeError(`model ${modelId} has no version yet`, {
        code: 'no_model',
        retriable: true,
      });
    }
    if (result.rejected.length > 0) {
      const r = result.rejected[0]!.error;
      throw new UnrecoverableError(`${r.code}: ${r.message}`);
    }
    return outputPayloads(result.outputs[0]!);
  }
}
