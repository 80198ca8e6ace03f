import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeWorker } from '../transport/bullmq.js';
import type { SeqaeConfig } from '../config/index.js';
import { SeqaeError } from '../errors/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import { deadLetter, type DeadLetter } from '../contracts/dead-letter.js';
import {
  INFER_BULK_JOB_NAME,
  INFER_JOB_NAME,
  inferJob,
  parseBulkJob,
  windowJobId,
  type InferBulkJobResult,
  type InferJobResult,
} from '../contracts/jobs.js';
import { anomalyPayload, outputPayloads, type WindowOutputs } from '../contracts/outputs.js';
import { tryParseWindow, windowLimits, type Window } from '../contracts/window.js';
import type { ModelLifecycle } from '../training/lifecycle.js';
import type { OutputPublisher } from '../scoring/publisher.js';
import { RecordBatcher } from './record-batcher.js';
import { ScoreBatcher } from '../scoring/score-batcher.js';
import type { WindowScorer } from '../scoring/window-scorer.js';

export interface InferWorkerDeps {
  config: SeqaeConfig;
  connection: Redis;
  scorer: WindowScorer;
  lifecycle: ModelLifecycle;
  /** The infer queue: a bulk job's windows whose model has no version yet become window jobs here. */
  queue: Pick<Queue, 'addBulk'>;
  publisher?: OutputPublisher;
  metrics?: WorkerMetrics;
}

type Result = InferJobResult | InferBulkJobResult;

/**
 * The BullMQ side of scoring (job contract: src/contracts/jobs.ts). A `window` job is one window: an
 * invalid one fails its job at once with the reason (no retry can fix it); one whose model has no
 * version yet is recorded for training and fails retriably, so the job's backoff brings it back once
 * the model exists. A `windows` job is many: each bad window is dead-lettered and listed in the
 * result, the others scored; those whose model has no version yet become window jobs of their own.
 */
export class InferWorker {
  readonly worker: Worker<unknown, Result>;
  /** The jobs running at once (SEQAE_CONCURRENCY) share model calls and output sends. */
  private readonly batcher: ScoreBatcher;
  /** … and the Redis transaction that records their windows for training (one a tick). */
  private readonly recorder: RecordBatcher;
  /** What a window's job result holds (SEQAE_INFER_RESULT; the full outputs when not published). */
  private readonly result: (o: WindowOutputs) => InferJobResult;

  constructor(private readonly deps: InferWorkerDeps) {
    const { config } = deps;
    this.batcher = new ScoreBatcher(deps.scorer, deps.publisher, {
      chunk: config.worker.batchMax,
      publish: config.worker.inferPublish,
    });
    this.recorder = new RecordBatcher(deps.lifecycle);
    const full = config.worker.inferResult === 'full' || !config.worker.inferPublish;
    this.result = full ? outputPayloads : anomalyPayload;
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

  private async process(job: Job<unknown, Result>): Promise<Result> {
    if (job.name === INFER_JOB_NAME) return this.processWindow(job);
    if (job.name === INFER_BULK_JOB_NAME) return this.processBulk(job);
    throw new UnrecoverableError(`unknown_job: "${job.name}" is not a job of this queue`);
  }

  private async processWindow(job: Job): Promise<InferJobResult> {
    const { lifecycle, metrics, config } = this.deps;
    const parsed = tryParseWindow(job.data, windowLimits(config.maxWindowValues));
    if (!parsed.ok) throw new UnrecoverableError(`${parsed.error.code}: ${parsed.error.message}`);
    const window = parsed.value;
    metrics?.windowsConsumed.inc({ source: 'bullmq' });
    const modelId = lifecycle.modelFor(window.streamId);
    // Scored (and its outputs published) with the other jobs running now, and recorded for training
    // meanwhile: once per job (not per retry); not held, since the job itself comes back for its
    // outputs when its model has no version yet.
    const scored = this.batcher.score(modelId, [window]);
    const recorded =
      job.attemptsMade === 0
        ? this.recorder.record(
            modelId,
            [window],
            scored.then((r) => r !== undefined),
          )
        : undefined;
    const [result] = await Promise.all([scored, recorded]);
    if (!result) {
      throw new SeqaeError(`model ${modelId} has no version yet`, { code: 'no_model' });
    }
    if (result.rejected.length > 0) {
      const r = result.rejected[0]!.error;
      throw new UnrecoverableError(`${r.code}: ${r.message}`);
    }
    return this.result(result.outputs[0]!);
  }

  /**
   * A bulk job: its windows scored with the other jobs running now, each model's in one call. A retry
   * (an output send or a record that failed) scores and publishes them all again, as a window job's
   * retry does its one window: outputs are at least once, recognisable by their identity.
   */
  private async processBulk(job: Job): Promise<InferBulkJobResult> {
    const { lifecycle, metrics, config, publisher } = this.deps;
    const parsed = parseBulkJob(job.data, config.maxWindowValues);
    if (!parsed.ok) throw new UnrecoverableError(`${parsed.error.code}: ${parsed.error.message}`);
    const entries: InferBulkJobResult['windows'] = new Array(
      parsed.value.windows.length + parsed.value.rejected.length,
    );
    const source = `bullmq:${config.queues.infer}/${job.id}`;
    const letters: DeadLetter[] = [];
    for (const { index, item, error } of parsed.value.rejected) {
      entries[index] = { ok: false, reason: error.code, detail: error.message };
      const streamId = (item as { streamId?: unknown } | null)?.streamId;
      letters.push(
        deadLetter(error, `${source}#${index}`, {
          original: JSON.stringify(item) ?? String(item),
          streamId: typeof streamId === 'string' ? streamId : undefined,
        }),
      );
    }
    metrics?.windowsConsumed.inc({ source: 'bullmq' }, parsed.value.windows.length);
    const byModel = new Map<string, Window[]>();
    const indexOf = new Map<Window, number>();
    for (const { index, window } of parsed.value.windows) {
      indexOf.set(window, index);
      const modelId = lifecycle.modelFor(window.streamId);
      let list = byModel.get(modelId);
      if (!list) byModel.set(modelId, (list = []));
      list.push(window);
    }
    const deferred: Window[] = [];
    await Promise.all(
      [...byModel].map(async ([modelId, windows]) => {
        const result = await this.batcher.score(modelId, windows);
        if (!result) {
          // A window job each, with its own backoff, recorded for training when it runs.
          deferred.push(...windows);
          return;
        }
        if (job.attemptsMade === 0) await this.recorder.record(modelId, windows, true);
        for (const o of result.outputs)
          entries[indexOf.get(o.window)!] = { ok: true, result: this.result(o) };
        for (const { window, error } of result.rejected) {
          entries[indexOf.get(window)!] = { ok: false, reason: error.code, detail: error.message };
          letters.push(deadLetter(error, `${source}#${indexOf.get(window)!}`, window));
        }
      }),
    );
    if (deferred.length > 0) {
      await this.deps.queue.addBulk(deferred.map(inferJob));
      for (const w of deferred)
        entries[indexOf.get(w)!] = { ok: false, reason: 'no_model', job: windowJobId(w) };
    }
    // Without a publisher (no Kafka) the reasons stay in the result only.
    await publisher?.deadLetter(letters);
    return { windows: entries };
  }
}
