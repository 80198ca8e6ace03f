import { Queue } from 'bullmq';
import type { SeqaeConfig } from '../config/index.js';
import { createRedis } from '../transport/redis.js';
import { WindowStore } from '../training/window-store.js';

/**
 * What a stopped demo would otherwise leave to the next worker: its sensors' training jobs that had
 * not run (a later worker would train a finished run's models first) and the windows held for
 * sensors that never got a model. Trained models and outputs stay, for the report and for a look
 * with `seqae models list`. Returns how many jobs and sensors it dropped.
 */
export async function forgetUnfinished(
  config: SeqaeConfig,
  prefix: string,
): Promise<{ jobs: number; streams: number }> {
  const redis = createRedis(config, { name: 'seqae-demo-cleanup' });
  redis.on('error', () => {});
  const queue = new Queue(config.queues.train, {
    connection: redis,
    prefix: config.queues.prefix,
  });
  try {
    let jobs = 0;
    const states = ['waiting', 'delayed', 'prioritized', 'active', 'failed'] as const;
    for (const job of await queue.getJobs([...states]))
      if (job?.id?.startsWith(`train@${prefix}`))
        // An active job still locked by the stopped worker cannot go: it fails its lock and stays.
        jobs += await job.remove().then(
          () => 1,
          () => 0,
        );
    const store = new WindowStore(redis, {
      prefix: config.redis.keyPrefix,
      trainWindows: config.worker.trainWindows,
      pendingLimit: config.worker.pendingLimit,
    });
    let streams = 0;
    for (const modelId of await store.pendingModels())
      if (modelId.startsWith(prefix)) {
        await store.dropPending(modelId);
        streams++;
      }
    return { jobs, streams };
  } finally {
    await queue.close().catch(() => {});
    redis.disconnect();
  }
}
