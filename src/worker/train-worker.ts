import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeWorker } from './close.js';
import type { SeqaeConfig } from '../config/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import { trainingChildEnv } from './train-processor-config.js';
import type { TrainJobData, TrainJobResult, TrainProgress } from '../contracts/jobs.js';

/**
 * The processor's file: the compiled .js beside this module, or the .ts source when running from
 * source, in which case the child is started with tsx's loader as well.
 */
function processorFile(): { file: string; execArgv?: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith('.ts');
  const file = here.replace(/train-worker\.(ts|js)$/, `train-processor.${ts ? 'ts' : 'js'}`);
  return ts ? { file, execArgv: ['--import', 'tsx'] } : { file };
}

/**
 * Trains models from `seqae-train` jobs in a pool of `trainPool` child processes (BullMQ sandboxed
 * processors): the parent only renews locks and relays progress. Failed jobs are retried with the
 * backoff set when they were enqueued; their error stays on the job.
 */
export class TrainWorker {
  readonly worker: Worker<TrainJobData, TrainJobResult>;

  constructor(
    private readonly config: SeqaeConfig,
    connection: Redis,
    private readonly metrics?: WorkerMetrics,
  ) {
    const { file, execArgv } = processorFile();
    this.worker = new Worker<TrainJobData, TrainJobResult>(config.queues.train, file, {
      connection,
      prefix: config.queues.prefix,
      concurrency: config.worker.trainPool,
      useWorkerThreads: false,
      workerForkOptions: {
        ...(execArgv ? { execArgv: [...process.execArgv, ...execArgv] } : {}),
        // The child trains with exactly its parent's settings, flags and test overrides included.
        env: trainingChildEnv(config),
      },
      // Training can run for minutes; the lock is renewed by this (never blocked) parent.
      lockDuration: 60_000,
      autorun: false,
    });
    this.worker.on('progress', (job, progress) => this.onProgress(job, progress as TrainProgress));
    this.worker.on('completed', (job, result) => this.onFinished(job, 'completed', result));
    this.worker.on('failed', (job) => job && this.onFinished(job, 'failed'));
  }

  start(): void {
    void this.worker.run();
  }

  /**
   * Cancels running trainings at once (a training can take minutes: its children stop at their next
   * batch and hand the job back to the queue for another worker), then closes; children still running
   * at `deadlineMs` are killed. True when it had to kill.
   */
  stop(deadlineMs: number): Promise<boolean> {
    this.worker.cancelAllJobs('worker stopping');
    return closeWorker(this.worker, deadlineMs);
  }

  private onProgress(job: Job<TrainJobData>, p: TrainProgress): void {
    if (typeof p !== 'object' || p === null || typeof p.loss !== 'number') return;
    const model = job.data.modelId;
    this.metrics?.trainingEpochs.inc();
    this.metrics?.setTrainingLoss(model, 'total', p.loss);
    if (p.reconstruction !== undefined)
      this.metrics?.setTrainingLoss(model, 'reconstruction', p.reconstruction);
    if (p.prediction !== undefined)
      this.metrics?.setTrainingLoss(model, 'prediction', p.prediction);
  }

  private onFinished(
    job: Job<TrainJobData>,
    status: 'completed' | 'failed',
    result?: TrainJobResult,
  ): void {
    const queue = this.config.queues.train;
    this.metrics?.jobs.inc({ queue, type: job.name, status });
    if (job.finishedOn && job.processedOn) {
      this.metrics?.jobDuration.observe(
        { queue, type: job.name },
        (job.finishedOn - job.processedOn) / 1000,
      );
    }
    if (result) this.metrics?.trainingDuration.observe(result.summary.durationMs / 1000);
  }
}
