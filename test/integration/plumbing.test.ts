/**
 * The plumbing every other integration test leans on, against the real servers: Kafka produce and
 * consume through a consumer group, a BullMQ job's round trip, and a plain Redis key.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { Consumer, Producer } from 'kafkajs';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { cleanupRedis, createTopics, testConfig, withKafkaAdmin } from '../support/services.js';

const config = testConfig('plumbing');

afterAll(async () => {
  await cleanupRedis(config);
});

describe('test services', () => {
  it('reach the workers through provide/inject and process.env alike', () => {
    const provided = inject('seqaeServices');
    expect(provided.runId).toMatch(/^[a-z0-9]+$/);
    expect(process.env.KAFKA_BROKERS).toBe(provided.kafkaBrokers);
    expect(process.env.REDIS_URL).toBe(provided.redisUrl);
    expect(config.topics.windows).toBe(`t${provided.runId}.plumbing.windows`);
    expect(config.kafka.brokers).toEqual(provided.kafkaBrokers.split(','));
  });
});

describe('kafka', () => {
  it('round-trips keyed messages through a producer and a consumer group, in order per key', async () => {
    const topic = config.topics.windows;
    await createTopics(config, [topic], 3);
    const partitions = await withKafkaAdmin(config, (admin) =>
      admin.fetchTopicMetadata({ topics: [topic] }),
    );
    expect(partitions.topics[0]?.partitions).toHaveLength(3);

    const kafka = createKafka(config);
    const keys = ['a', 'b', 'c', 'd'];
    const sent = keys.flatMap((key) => [0, 1, 2, 3, 4].map((i) => ({ key, value: `${key}:${i}` })));

    const groupId = `${topic}.group`;
    const producer: Producer = kafka.producer();
    const consumer: Consumer = kafka.consumer({ groupId });
    try {
      await producer.connect();
      await producer.send({ topic, messages: sent });

      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received: { key: string; value: string; partition: number }[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ message, partition }) => {
              received.push({
                key: message.key?.toString() ?? '',
                value: message.value?.toString() ?? '',
                partition,
              });
              if (received.length === sent.length) resolve();
            },
          })
          .catch(reject);
      });

      expect(received.map((m) => m.value).sort()).toEqual(sent.map((m) => m.value).sort());
      for (const key of keys) {
        const ofKey = received.filter((m) => m.key === key);
        // One key, one partition, and the order it was produced in.
        expect(new Set(ofKey.map((m) => m.partition)).size).toBe(1);
        expect(ofKey.map((m) => m.value)).toEqual([0, 1, 2, 3, 4].map((i) => `${key}:${i}`));
      }

      // The group commits its offsets (after each batch): the broker learns where it got to.
      const committed = async () => {
        const offsets = await withKafkaAdmin(config, (admin) =>
          admin.fetchOffsets({ groupId, topics: [topic] }),
        );
        return offsets[0]!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      };
      await expect.poll(committed, { timeout: 30_000, interval: 200 }).toBe(sent.length);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });
});

describe('bullmq', () => {
  it('takes a job from a Queue to a Worker and back with its return value', async () => {
    const connection = createRedis(config, { bullmq: true });
    const options = { connection, prefix: config.queues.prefix };
    const queue = new Queue<{ values: number[] }, { sum: number }>(config.queues.infer, options);
    const events = new QueueEvents(config.queues.infer, {
      ...options,
      connection: connection.duplicate(),
    });
    const worker = new Worker<{ values: number[] }, { sum: number }>(
      config.queues.infer,
      async (job) => ({ sum: job.data.values.reduce((a, b) => a + b, 0) }),
      { ...options, connection: connection.duplicate() },
    );
    try {
      // BullMQ 6 rejects ':' in custom job ids ("Custom Id cannot contain :").
      await events.waitUntilReady();
      const job = await queue.add('sum', { values: [1, 2, 3.5] }, { jobId: 'stream-1-41' });
      expect(job.id).toBe('stream-1-41');
      const result = await job.waitUntilFinished(events, 30_000);
      expect(result).toEqual({ sum: 6.5 });

      const stored = await queue.getJob('stream-1-41');
      expect(stored?.returnvalue).toEqual({ sum: 6.5 });
      expect(await stored?.getState()).toBe('completed');
      // The job lives under this run's BullMQ prefix, not the default `bull`.
      expect(
        await connection.exists(`${config.queues.prefix}:${config.queues.infer}:stream-1-41`),
      ).toBe(1);
    } finally {
      await worker.close();
      await events.close();
      await queue.close();
      connection.disconnect();
    }
  });
});

describe('redis', () => {
  it('reads back a key it wrote, under the run key prefix', async () => {
    const redis = createRedis(config);
    try {
      const key = `${config.redis.keyPrefix}:plumbing`;
      await redis.set(key, 'value with ünïcode', 'EX', 600);
      expect(await redis.get(key)).toBe('value with ünïcode');
      expect(await cleanupRedis(config)).toBeGreaterThanOrEqual(1);
      expect(await redis.exists(key)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
