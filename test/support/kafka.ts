import type { Consumer, KafkaMessage } from 'kafkajs';
import { withKafkaAdmin } from './services.js';
import { randomBytes } from 'node:crypto';
import type { SeqaeConfig } from '../../src/config/index.js';
import { createKafka } from '../../src/transport/kafka.js';
import { windowMessage, type Window } from '../../src/contracts/window.js';
import { decodeOutput } from '../../src/contracts/outputs.js';

/** Output messages of a run, by topic name, collected by a plain kafkajs consumer. */
export interface Collected {
  messages: Map<string, { headers: Record<string, string>; value: Record<string, unknown> }[]>;
  /** Distinct window ids seen per topic name. */
  ids(name: string): Set<string>;
  stop(): Promise<void>;
}

const names = ['reconstructions', 'predictions', 'embeddings', 'anomalies', 'dlq'] as const;

function headers(m: KafkaMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
}

/** Subscribes to every output topic of `config` from the beginning. */
export async function collectOutputs(config: SeqaeConfig, group: string): Promise<Collected> {
  const consumer: Consumer = createKafka(config, { clientId: `${group}-collector` }).consumer({
    groupId: `${group}-collector`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  const byTopic = new Map(names.map((n) => [config.topics[n], n]));
  await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
  const messages = new Map<
    string,
    { headers: Record<string, string>; value: Record<string, unknown> }[]
  >(names.map((n) => [n, []]));
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      messages.get(byTopic.get(topic)!)!.push({
        headers: headers(message),
        value: decodeOutput(message.value),
      });
    },
  });
  return {
    messages,
    ids: (name) => new Set(messages.get(name)!.map((m) => m.headers['seqae-id']!)),
    stop: () => consumer.disconnect(),
  };
}

/** Sends windows to the windows topic as the producer's Kafka sink writes them (windowMessage). */
export async function sendWindows(config: SeqaeConfig, windows: readonly Window[]): Promise<void> {
  const producer = createKafka(config, { clientId: 'seqae-test-window-sender' }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (let i = 0; i < windows.length; i += 500) {
      await producer.send({
        topic: config.topics.windows,
        acks: -1,
        messages: windows.slice(i, i + 500).map(windowMessage),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every message of `topic` up to its current end, read by a fresh consumer group. */
export async function readTopic(
  c: SeqaeConfig,
  topic: string,
): Promise<(KafkaMessage & { partition: number })[]> {
  const ends = await withKafkaAdmin(c, (admin) => admin.fetchTopicOffsets(topic));
  const remaining = new Map(ends.map((p) => [p.partition, BigInt(p.high)]));
  for (const [p, high] of remaining) if (high === 0n) remaining.delete(p);
  const out: (KafkaMessage & { partition: number })[] = [];
  if (remaining.size === 0) return out;
  const consumer = createKafka(c).consumer({
    groupId: `${topic}.reader.${randomBytes(4).toString('hex')}`,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message, partition }) => {
            out.push({ ...message, partition });
            if (BigInt(message.offset) + 1n >= (remaining.get(partition) ?? 0n))
              remaining.delete(partition);
            if (remaining.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}
