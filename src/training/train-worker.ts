import { fileURLToPath } from 'node:url';
import { Worker, type ChildPool, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeWorker } from '../transport/bullmq.js';
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
 * The pool of a sandboxed BullMQ worker. BullMQ has no public handle on it (`childPool` is private),
 * so this checks its shape and throws when an upgrade renames or reshapes it: the worker then reports
 * an error (and children start at the first jobs), and test/integration/train-pool.test.ts fails.
 */
export function sandboxPool(worker: Worker): ChildPool {
  const pool = (worker as unknown as { childPool?: Partial<ChildPool> }).childPool;
  if (typeof pool?.retain !== 'function' || typeof pool.release !== 'function')
    throw new Error(
      "BullMQ's Worker has no childPool with retain() and release() (a BullMQ upgrade changed its internals): training children start at the first jobs, not with the worker",
    );
  return pool as ChildPool;
}

/**
 * Trains models from `seqae-train` jobs in a pool of `trainPool` child processes (BullMQ sandboxed
 * processors): the parent only renews locks and relays progress. Failed jobs are retried with the
 * backoff set when they were enqueued; their error stays on the job.
 */
export class TrainWorker {
  readonly worker: Worker<TrainJobData, TrainJobResult>;
  private readonly file: string;
  private starting?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly config: SeqaeConfig,
    connection: Redis,
    private readonly metrics?: WorkerMetrics,
  ) {
    const { file, execArgv } = processorFile();
    this.file = file;
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

  /**
   * Starts the pool's `trainPool` children, then takes jobs. A child takes seconds to start (Node,
   * the sources, the compute backend): started on demand, each of a fleet's first trainings waited
   * for one. Resolves once jobs are taken; never rejects (a child that fails to start is reported as
   * an `error` of the worker, and jobs then start children on demand as before).
   */
  start(): Promise<void> {
    this.starting ??= this.startChildren().then(() => {
      if (!this.stopping) void this.worker.run();
    });
    return this.starting;
  }

  /** Children started and handed to BullMQ's pool, to be taken by its first jobs. */
  private async startChildren(): Promise<void> {
    let pool: ChildPool;
    try {
      pool = sandboxPool(this.worker);
    } catch (err) {
      this.worker.emit('error', err as Error);
      return;
    }
    const started = await Promise.allSettled(
      Array.from({ length: this.config.worker.trainPool }, () => pool.retain(this.file)),
    );
    for (const s of started) {
      if (s.status === 'fulfilled') pool.release(s.value);
      else this.worker.emit('error', s.reason as Error);
    }
  }

  /**
   * Cancels running trainings at once (a training can take minutes: its children stop at their next
   * batch and hand the job back to the queue for another worker), then closes; children still running
   * at `deadlineMs` are killed. True when it had to kill.
   */
  async stop(deadlineMs: number): Promise<boolean> {
    this.stopping = true;
    this.worker.cancelAllJobs('worker stopping');
    await this.starting; // children still starting are in the pool, and closing kills them
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
