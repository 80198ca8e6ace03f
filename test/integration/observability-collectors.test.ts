/**
 * The scrape-time collectors against the real services: BullMQ queue depth per state from a real
 * queue in Redis, Kafka consumer lag per partition from a real group's committed offsets.
 */
import { Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createMetricsRegistry,
  registerKafkaLagCollector,
  registerQueueDepthCollector,
} from '../../src/metrics/index.js';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { cleanupRedis, createTopics, testConfig, withKafkaAdmin } from '../support/services.js';

const config = testConfig('observability-collectors');
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
  await cleanupRedis(config);
});

const series = (text: string, name: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`))
      .map((l) => [
        l.slice(name.length, l.lastIndexOf(' ')),
        Number(l.slice(l.lastIndexOf(' ') + 1)),
      ]),
  );

describe('queue depth collector', () => {
  it('reports a real BullMQ queue’s jobs per state on every scrape', async () => {
    const connection = createRedis(config, { bullmq: true, name: 'collectors-test' });
    const queue = new Queue(config.queues.infer, { connection, prefix: config.queues.prefix });
    cleanup.push(
      () => connection.quit(),
      () => queue.close(),
    );
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    registerQueueDepthCollector(registry, [queue]);

    await queue.add('infer', { n: 1 });
    await queue.add('infer', { n: 2 });
    await queue.add('infer', { n: 3 }, { delay: 3_600_000 });
    await queue.add('infer', { n: 4 }, { priority: 5 });
    const q = `{queue="${config.queues.infer}"`;
    expect(series(await registry.metrics(), 'seqae_queue_jobs')).toEqual({
      [`${q},state="waiting"}`]: 2,
      [`${q},state="prioritized"}`]: 1,
      [`${q},state="active"}`]: 0,
      [`${q},state="delayed"}`]: 1,
      [`${q},state="failed"}`]: 0,
      [`${q},state="completed"}`]: 0,
    });

    // Process the three runnable jobs: one fails, two complete.
    const done = new Promise<void>((resolve) => {
      let finished = 0;
      const worker = new Worker(
        config.queues.infer,
        async (job) => {
          if (job.data.n === 2) throw new Error('bad window');
          return 'ok';
        },
        { connection: createRedis(config, { bullmq: true }), prefix: config.queues.prefix },
      );
      const count = () => ++finished === 3 && resolve();
      worker.on('completed', count);
      worker.on('failed', count);
      cleanup.push(() => worker.close());
    });
    await done;
    const after = series(await registry.metrics(), 'seqae_queue_jobs');
    expect(after[`${q},state="completed"}`]).toBe(2);
    expect(after[`${q},state="failed"}`]).toBe(1);
    expect(after[`${q},state="waiting"}`]).toBe(0);
    expect(after[`${q},state="delayed"}`]).toBe(1);
  });
});

describe('Kafka consumer lag collector', () => {
  it('reports lag per partition from a real group’s committed offsets', async () => {
    const topic = config.topics.windows;
    const groupId = `${topic}.lag-group`;
    await createTopics(config, [topic], 2);
    const producer = createKafka(config, { clientId: 'collectors-producer' }).producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        ...Array.from({ length: 7 }, (_, i) => ({ partition: 0, value: `a${i}` })),
        ...Array.from({ length: 4 }, (_, i) => ({ partition: 1, value: `b${i}` })),
      ],
    });
    await producer.disconnect();

    const admin = createKafka(config, { clientId: 'collectors-admin' }).admin();
    cleanup.push(() => admin.disconnect());
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const lag = registerKafkaLagCollector(registry, admin, [{ groupId, topics: [topic] }], {
      cacheMs: 0,
    });
    const p = (n: number) => `{group="${groupId}",topic="${topic}",partition="${n}"}`;

    // The group has committed nothing: it is behind by everything retained.
    expect(series(await registry.metrics(), 'seqae_kafka_consumer_lag')).toEqual({
      [p(0)]: 7,
      [p(1)]: 4,
    });

    // The group commits (an empty group may have its offsets set): partition 0 at 5, 1 at its end.
    await withKafkaAdmin(config, (a) =>
      a.setOffsets({
        groupId,
        topic,
        partitions: [
          { partition: 0, offset: '5' },
          { partition: 1, offset: '4' },
        ],
      }),
    );
    expect(series(await registry.metrics(), 'seqae_kafka_consumer_lag')).toEqual({
      [p(0)]: 2,
      [p(1)]: 0,
    });
    const direct = await lag.refresh();
    expect(direct.get(groupId)).toEqual([
      { topic, partition: 0, lag: 2 },
      { topic, partition: 1, lag: 0 },
    ]);
  });
});
