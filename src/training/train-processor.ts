/**
 * The training job processor, run by BullMQ in a child process (a sandboxed processor) so that
 * training, which holds the CPU for seconds to minutes, never stalls the parent's event loop: its lock
 * renewals, Kafka heartbeats and health endpoints. The child trains with its parent's resolved
 * configuration (see train-processor-config.ts).
 */
import { DelayedError, UnrecoverableError, type SandboxedJob } from 'bullmq';
import { initBackend } from '../backend/index.js';
import { CancelledError } from '../errors/index.js';
import { configFromParent } from './train-processor-config.js';
import { ModelRegistry } from '../model-registry/index.js';
import { createRedis } from '../transport/redis.js';
import {
  parseTrainJob,
  type TrainJobData,
  type TrainJobResult,
  type TrainProgress,
} from '../contracts/jobs.js';
import { modelDefaults, trainAndPublish } from './training.js';
import { WindowStore } from './window-store.js';

const config = configFromParent();
const redis = createRedis(config, { name: 'seqae-train-child' });
const registry = new ModelRegistry(redis, {
  prefix: config.redis.keyPrefix,
  keep: config.worker.modelKeep,
});
const store = new WindowStore(redis, {
  prefix: config.redis.keyPrefix,
  trainWindows: config.worker.trainWindows,
  pendingLimit: config.worker.pendingLimit,
});
// Training only: this process never scores, so it never loads ONNX Runtime.
const backend = initBackend(config.backend, { scoring: false });

// A worker that stops cancels its jobs (BullMQ passes the job's abort signal here), and its deadline
// ends with SIGTERM to this child: either way training stops at the next batch and the job goes back
// to the queue, for this or another worker, without spending an attempt.
const shutdown = new AbortController();
process.on('SIGTERM', () => shutdown.abort());
// A child never outlives its worker: when the parent dies its IPC channel closes.
process.on('disconnect', () => process.exit(1));

/** Leases are held while training and renewed every epoch; a crashed trainer's lease runs out. */
const LEASE_MS = 2 * 60_000;

/** How long a job for a model under training waits before it looks again. */
const BUSY_DELAY_MS = 5000;

/**
 * What a job without explicit windows trains on. A model's first training (after warm-up) takes the
 * stream's first `warmupWindows` windows, held in order until that first version exists, however fast
 * they arrived: a file replayed at full speed is all there before training starts, and its newest
 * windows (anomalies included) are its future. Retraining takes the recent windows, all from before it.
 */
async function trainingWindows(modelId: string, reason: TrainJobData['reason']) {
  if (reason === 'warmup') {
    const { windows } = await store.peekPending(modelId, config.worker.warmupWindows);
    if (windows.length > 0) return windows;
  }
  return store.recent(modelId);
}

export default async function trainJob(
  job: SandboxedJob<TrainJobData, TrainJobResult>,
  token?: string,
  cancelled?: AbortSignal,
): Promise<TrainJobResult> {
  // Whoever added the job, it is checked before anything is done with it; no retry can fix it.
  const checked = parseTrainJob(job.name, job.data, config.maxWindowValues);
  if (!checked.ok) throw new UnrecoverableError(`${checked.error.code}: ${checked.error.message}`);
  const data = checked.value;
  await backend;
  const { modelId } = data;
  // One training per model at a time, whichever worker holds the job. A second one waits: it is
  // delayed, which does not spend one of its attempts.
  const lease = await store.lease(`train:${modelId}`, LEASE_MS);
  if (!lease) {
    await job.moveToDelayed(Date.now() + BUSY_DELAY_MS, token);
    throw new DelayedError(`model ${modelId} is being trained already`);
  }
  const signal = cancelled ? AbortSignal.any([cancelled, shutdown.signal]) : shutdown.signal;
  try {
    const windows = data.windows ?? (await trainingWindows(modelId, data.reason));
    return await trainAndPublish(
      data,
      windows,
      modelDefaults(config.worker.model),
      registry,
      config.worker.training,
      {
        signal,
        onEpoch: async (p) => {
          const progress: TrainProgress = {
            epoch: p.epoch,
            epochs: p.epochs,
            loss: p.loss,
            reconstruction: p.reconstruction,
            prediction: p.prediction,
          };
          await job.updateProgress(progress);
          await lease.extend(LEASE_MS);
        },
      },
    );
  } catch (err) {
    if (!(err instanceof CancelledError && signal.aborted)) throw err;
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError(`training of ${modelId} handed back: its worker is stopping`);
  } finally {
    await lease.release();
  }
}
