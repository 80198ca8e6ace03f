/**
 * How `seqae worker` processes start and stop, as a user (or an orchestrator) runs them: a taken port
 * stops a worker before it takes any work; its training children start with it, not at the first
 * job; SIGTERM during a long training ends the worker within
 * seconds, long before its deadline, and the training is handed to another worker; a training child
 * ends with its worker when the worker is killed; and a stream consumer that cannot go on makes
 * /readyz fail and the process exit non-zero.
 */
import { createServer } from 'node:net';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { addTrainJob, type TrainJobData, type TrainJobResult } from '../../src/contracts/jobs.js';
import type { SeqaeConfig } from '../../src/config/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { childPids, spawnWorker, stopChild, type Child } from '../support/processes.js';
import {
  cleanupRedis,
  createTopics,
  testConfig,
  testEnv,
  withKafkaAdmin,
} from '../support/services.js';
import { Fatal, waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

const children: Child[] = [];
function worker(name: string, env: Record<string, string>): Child {
  const child = spawnWorker(testEnv(name, env), name);
  children.push(child);
  return child;
}
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopChild(c, 5_000)));
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const logged = (c: Child, text: string) => c.log.some((l) => l.includes(text));
const dead = (c: Child) => {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null)
    throw new Fatal(`worker exited early:\n${c.log.slice(-20).join('\n')}`);
};

/** A training job for `modelId` with windows of its own; returns the job id. */
async function requestTraining(config: SeqaeConfig, modelId: string) {
  const redis = createRedis(config, { bullmq: true });
  const queue = new Queue<TrainJobData, TrainJobResult>(config.queues.train, {
    connection: redis,
    prefix: config.queues.prefix,
  });
  const registry = new ModelRegistry(createRedis(config), {
    prefix: config.redis.keyPrefix,
    keep: 5,
  });
  try {
    return await addTrainJob(queue, registry, {
      modelId,
      reason: 'request',
      windows: sineWindows(modelId, 512, 16),
    });
  } finally {
    await queue.close();
    await registry.close();
  }
}

/** A clean `name` scenario and the events of its training queue: jobs completed, epochs seen. */
/**
 * A train-only worker of `name` training `modelId` for as long as the test needs (no early stop),
 * once its first epoch is done; `env` adds to its settings.
 */
async function longTraining(
  name: string,
  config: SeqaeConfig,
  epochs: () => number,
  modelId: string,
  env: Record<string, string> = {},
) {
  const w = worker(name, {
    SEQAE_ROLES: 'train',
    SEQAE_HTTP_PORT: '0',
    SEQAE_EPOCHS: '100000',
    SEQAE_EARLY_STOPPING_PATIENCE: '0',
    ...env,
  });
  const jobId = await requestTraining(config, modelId);
  await waitFor('a training epoch', () => (dead(w), epochs() >= 1), 120_000);
  return { w, jobId };
}

async function watchTraining(name: string) {
  const config = testConfig(name);
  await cleanupRedis(config);
  const events = new QueueEvents(config.queues.train, {
    connection: createRedis(config, { bullmq: true }),
    prefix: config.queues.prefix,
  });
  const completed: string[] = [];
  events.on('completed', ({ jobId }) => void completed.push(jobId));
  let epochs = 0;
  events.on('progress', () => void epochs++);
  await events.waitUntilReady();
  return { config, events, completed, epochs: () => epochs };
}

/**
 * Starts another (quick) training worker for `name`, waits until it has done the job (`done`), and
 * expects `modelId` published exactly once.
 */
async function expectTrainedOnceByAnother(
  config: SeqaeConfig,
  name: string,
  modelId: string,
  done: () => boolean,
) {
  const next = worker(name, { SEQAE_ROLES: 'train', SEQAE_HTTP_PORT: '0', SEQAE_EPOCHS: '2' });
  await waitFor('the job done by another worker', () => (dead(next), done()), 150_000);
  const registry = new ModelRegistry(createRedis(config), {
    prefix: config.redis.keyPrefix,
    keep: 5,
  });
  try {
    expect(await registry.versions(modelId)).toEqual([1]);
  } finally {
    await registry.close();
  }
}

describe('worker processes', () => {
  it('exit 2 with one line when the HTTP port is taken, before taking any work', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const w = worker('port-taken', { SEQAE_HTTP_PORT: String(port) });
      expect(await w.exited).toBe(2);
      const errors = w.log.filter((l) => !l.includes('"level"'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(`:${port}`);
      expect(errors[0]).toMatch(/taken/);
      expect(logged(w, 'compute backend ready')).toBe(true);
      expect(logged(w, 'worker ready')).toBe(false);
    } finally {
      server.close();
    }
  });

  it('start their training children before the first job, which one of them then trains', async () => {
    const { config, events, completed } = await watchTraining('pool-start');
    try {
      const w = worker('pool-start', {
        SEQAE_ROLES: 'train',
        SEQAE_HTTP_PORT: '0',
        SEQAE_TRAIN_POOL: '2',
        SEQAE_EPOCHS: '2',
      });
      // No job yet: started on demand, there would be no child at all.
      await waitFor(
        'two training children',
        () => {
          dead(w);
          const n = childPids(w.proc.pid!).length;
          if (n !== 2) throw new Error(`${n} children`);
          return true;
        },
        120_000,
      );
      const trainers = childPids(w.proc.pid!).sort();
      const jobId = await requestTraining(config, 'pooled');
      await waitFor('the training done', () => (dead(w), completed.includes(jobId)), 120_000);
      expect(childPids(w.proc.pid!).sort()).toEqual(trainers);
    } finally {
      await events.close();
    }
  });

  it('stop within seconds on SIGTERM during a long training, which another worker then does', async () => {
    const { config, events, completed, epochs } = await watchTraining('sigterm-training');
    try {
      const { w: long, jobId } = await longTraining('sigterm-training', config, epochs, 'long', {
        SEQAE_SHUTDOWN_TIMEOUT_MS: '60000',
      });
      const trainers = childPids(long.proc.pid!);
      expect(trainers.length).toBeGreaterThan(0);
      const t0 = Date.now();
      long.proc.kill('SIGTERM');
      expect(await long.exited).toBe(0);
      const seconds = (Date.now() - t0) / 1000;
      expect(seconds).toBeLessThan(30); // the deadline was 60 s: it was not waited for
      await waitFor('training children gone', () => trainers.every((p) => !alive(p)), 10_000);

      await expectTrainedOnceByAnother(config, 'sigterm-training', 'long', () =>
        completed.includes(jobId),
      );
    } finally {
      await events.close();
    }
  });

  it('never leave a training child behind when killed', async () => {
    const { config, events, epochs } = await watchTraining('orphan');
    try {
      const { w } = await longTraining('orphan', config, epochs, 'orphaned');
      const trainers = childPids(w.proc.pid!);
      expect(trainers.length).toBeGreaterThan(0);
      w.proc.kill('SIGKILL');
      await w.exited;
      await waitFor('the training child to end', () => trainers.every((p) => !alive(p)), 15_000);
    } finally {
      await events.close();
    }
  });

  it('hand a training killed with SIGKILL to another worker, which publishes the version once', async () => {
    const { config, events, completed, epochs } = await watchTraining('sigkill-training');
    try {
      const { w: killed, jobId } = await longTraining('sigkill-training', config, epochs, 'killed');
      killed.proc.kill('SIGKILL');
      await killed.exited;
      // Its lock lapses (60 s) and the next worker's stalled-job check hands the job over.
      await expectTrainedOnceByAnother(config, 'sigkill-training', 'killed', () =>
        completed.includes(jobId),
      );
    } finally {
      await events.close();
    }
  });

  it('fail /readyz and exit non-zero when the stream consumer cannot go on', async () => {
    const config = testConfig('consumer-dead', { SEQAE_ROLES: 'stream' });
    await cleanupRedis(config);
    // A reconstructions topic that refuses every output: publishing fails for good.
    await withKafkaAdmin(config, (admin) =>
      admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: config.topics.reconstructions,
            numPartitions: 1,
            configEntries: [{ name: 'max.message.bytes', value: '200' }],
          },
        ],
      }),
    );
    await createTopics(config, Object.values(config.topics), 1);
    const { SequenceAutoencoder } = await import('../../src/model/index.js');
    const { initBackend } = await import('../../src/backend/index.js');
    const { datasetFromStreams } = await import('../../src/training/training.js');
    await initBackend('auto');
    const model = SequenceAutoencoder.create({ nIn: 9, units: 4, epochs: 1, seed: 1 });
    await model.train(datasetFromStreams(model, sineWindows('dead', 16, 9)));
    const registry = new ModelRegistry(createRedis(config), {
      prefix: config.redis.keyPrefix,
      keep: 5,
    });
    await registry.publish('dead', await model.save(), {
      variant: model.config.variant,
      config: { ...model.config },
      streams: ['dead'],
      createdAt: Date.now(),
    });
    model.dispose();
    await registry.close();

    const port = 19_000 + Math.floor(Math.random() * 10_000);
    const w = worker('consumer-dead', { SEQAE_ROLES: 'stream', SEQAE_HTTP_PORT: String(port) });
    const ready = async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
    await waitFor('/readyz 200', async () => (dead(w), (await ready()) === 200), 60_000);
    const { sendWindows } = await import('../support/kafka.js');
    await sendWindows(config, sineWindows('dead', 5, 9));
    await waitFor('/readyz 503', async () => (dead(w), (await ready()) === 503), 60_000);
    expect(await w.exited).toBe(1);
    expect(logged(w, 'stream consumer restarting')).toBe(true);
    expect(logged(w, 'cannot go on')).toBe(true);
  });
});
