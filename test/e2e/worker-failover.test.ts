import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { loadConfig } from '../../src/config/index.js';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { windowId } from '../../src/contracts/window.js';
import { datasetFromStreams } from '../../src/training/training.js';
import { collectOutputs, sendWindows, type Collected } from '../support/kafka.js';
import { spawnWorker, type Child } from '../support/processes.js';
import { cleanupRedis, createTopics, testEnv, withKafkaAdmin } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

// Two worker processes in one consumer group share a 4-partition windows topic; one is killed with
// SIGKILL mid-stream; every window must still get every output (at least once, de-duplicated by id).
const env = testEnv('failover', {
  SEQAE_MODEL_GROUP: 'fleet',
  SEQAE_ROLES: 'stream',
  SEQAE_BATCH_MAX: '16',
  SEQAE_SESSION_TIMEOUT_MS: '6000',
  SEQAE_HTTP_PORT: '0',
  SEQAE_BACKEND: 'wasm',
});
const config = loadConfig(env);
const NIN = 12;
const STREAMS = 6;
const PER_STREAM = 250;

describe('two stream workers, one killed mid-stream', () => {
  let outputs: Collected;
  const workers: Child[] = [];

  beforeAll(async () => {
    await initBackend('wasm');
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 4);
    // A model for the shared id, so scoring starts at once (training is covered by worker.test.ts).
    const model = SequenceAutoencoder.create({ nIn: NIN, units: 8, epochs: 3, seed: 3 });
    await model.train(datasetFromStreams(model, sineWindows('seed-stream', 100, NIN)));
    const redis = createRedis(config);
    await new ModelRegistry(redis, {
      prefix: config.redis.keyPrefix,
      keep: config.worker.modelKeep,
    }).publish('fleet', await model.save(), {
      variant: 'composite',
      config: { ...model.config },
      streams: [],
      createdAt: Date.now(),
    });
    redis.disconnect();
    model.dispose();
    outputs = await collectOutputs(config, 'failover');
  });

  afterAll(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
    await outputs?.stop();
  });

  it('ends with every window scored after SIGKILL of one worker, and the other stops cleanly', async () => {
    workers.push(spawnWorker(env, 'A'), spawnWorker(env, 'B'));
    const members = async () =>
      withKafkaAdmin(config, async (admin) => {
        const { groups } = await admin.describeGroups([config.worker.groupId]);
        return groups[0]?.state === 'Stable' ? groups[0].members.length : 0;
      });
    await waitFor(
      'both workers in the consumer group',
      async () => (await members()) === 2,
      60_000,
      500,
    );

    const windows = Array.from({ length: STREAMS }, (_, s) =>
      sineWindows(`sensor-${s}`, PER_STREAM, NIN),
    ).flat();
    const ids = new Set(windows.map(windowId));
    // Sent in slices, so that scoring is under way on both workers when one dies.
    const sending = (async () => {
      for (let i = 0; i < windows.length; i += 150) {
        await sendWindows(config, windows.slice(i, i + 150));
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    await waitFor(
      'some outputs',
      () => outputs.ids('anomalies').size >= windows.length / 5,
      60_000,
      50,
    );
    workers[0]!.proc.kill('SIGKILL');
    expect(await workers[0]!.exited).toBe('SIGKILL');
    await sending;

    try {
      await waitFor(
        'every window on every output topic',
        () =>
          ['reconstructions', 'predictions', 'embeddings', 'anomalies'].every(
            (n) => outputs.ids(n).size >= ids.size,
          ),
        120_000,
      );
    } catch (err) {
      console.error(
        workers
          .flatMap((w) => w.log)
          .slice(-40)
          .join('\n'),
      );
      throw err;
    }
    for (const n of ['reconstructions', 'predictions', 'embeddings', 'anomalies'])
      expect(outputs.ids(n)).toEqual(ids);

    // The survivor shuts down gracefully on SIGTERM: exit code 0.
    workers[1]!.proc.kill('SIGTERM');
    expect(await workers[1]!.exited).toBe(0);
  });
});
