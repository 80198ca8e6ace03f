/**
 * Scaling out the stream workers: seqae creates its topics with SEQAE_TOPIC_PARTITIONS partitions, so
 * two workers of one group both get windows and together score every window once; and a windows topic
 * with fewer partitions than the group has members is named in a warning.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import type { SeqaeConfig } from '../../src/config/index.js';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { datasetFromStreams } from '../../src/training/training.js';
import { collectOutputs, sendWindows, type Collected } from '../support/kafka.js';
import { cleanupRedis, createTopics, testConfig, withKafkaAdmin } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

/** A logger whose lines are kept, to look for a warning. */
function keptLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, log: pino({ level: 'warn' }, sink) };
}

async function publishFleetModel(config: SeqaeConfig) {
  const model = SequenceAutoencoder.create({ nIn: 9, units: 8, epochs: 1, seed: 1 });
  await model.train(datasetFromStreams(model, sineWindows('fleet', 32, 9)));
  const registry = new ModelRegistry(createRedis(config), {
    prefix: config.redis.keyPrefix,
    keep: config.worker.modelKeep,
  });
  await registry.publish('fleet', await model.save(), {
    variant: model.config.variant,
    config: { ...model.config },
    streams: [],
    createdAt: Date.now(),
  });
  model.dispose();
  await registry.close();
}

const scoredBy = async (w: WorkerProcess) => {
  const metric = await w.metricsRegistry.getSingleMetric('seqae_windows_consumed_total')?.get();
  return metric?.values.reduce((s, v) => s + v.value, 0) ?? 0;
};

describe('two stream workers in one group', () => {
  const workers: WorkerProcess[] = [];
  let outputs: Collected | undefined;
  beforeAll(async () => {
    await initBackend('auto');
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await outputs?.stop();
    outputs = undefined;
  });

  it('both consume, and together score every window once', async () => {
    const config = testConfig('scale-two', {
      SEQAE_HTTP_PORT: '0',
      SEQAE_ROLES: 'stream',
      SEQAE_MODEL_GROUP: 'fleet',
      SEQAE_TOPIC_PARTITIONS: '12',
    });
    await cleanupRedis(config);
    await publishFleetModel(config);
    const quiet = pino({ level: 'warn' }, pino.destination(2));
    workers.push(await WorkerProcess.start(config, quiet));
    workers.push(await WorkerProcess.start(config, quiet));
    const partitions = await withKafkaAdmin(config, async (admin) => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [config.topics.windows] });
      return topics[0]!.partitions.length;
    });
    expect(partitions).toBe(12);
    // Both members own partitions before anything is produced, so no rebalance redelivers.
    await waitFor('two group members', () =>
      withKafkaAdmin(config, async (admin) => {
        const { groups } = await admin.describeGroups([config.worker.groupId]);
        return groups[0]?.state === 'Stable' && groups[0].members.length === 2;
      }),
    );
    outputs = await collectOutputs(config, 'scale-two');
    const windows = Array.from({ length: 24 }, (_, s) => sineWindows(`sensor-${s}`, 50, 9)).flat();
    await sendWindows(config, windows);
    await waitFor(
      'every window scored',
      () => outputs!.messages.get('anomalies')!.length >= windows.length,
    );
    // a moment for any duplicate to arrive
    await new Promise((r) => setTimeout(r, 1000));
    const anomalies = outputs.messages.get('anomalies')!;
    expect(anomalies).toHaveLength(windows.length);
    expect(outputs.ids('anomalies').size).toBe(windows.length);
    const [a, b] = await Promise.all(workers.map(scoredBy));
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(a + b).toBe(windows.length);
  });

  it('warn when the windows topic has fewer partitions than the group has members', async () => {
    const config = testConfig('scale-one-partition', {
      SEQAE_HTTP_PORT: '0',
      SEQAE_ROLES: 'stream',
    });
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 1);
    const first = keptLogger();
    const second = keptLogger();
    workers.push(await WorkerProcess.start(config, first.log));
    workers.push(await WorkerProcess.start(config, second.log));
    const warned = () =>
      [...first.lines, ...second.lines].find((l) =>
        l.includes('fewer partitions than the stream group has members'),
      );
    const line = await waitFor('the partition warning', warned, 60_000);
    expect(JSON.parse(line)).toMatchObject({
      partitions: 1,
      members: 2,
      topic: config.topics.windows,
    });
  });
});
