/**
 * KAFKA_PRODUCER_CLIENT=platformatic against the real Kafka: records arrive as kafkajs would have
 * written them (key, value, headers, order) on the partition kafkajs would have chosen, a whole
 * stream worker run delivers every window's outputs through it, and an unreachable broker fails
 * with an error classified as such.
 */
import type { TopicMessages } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import type { SeqaeConfig } from '../../src/config/index.js';
import { settings } from '../../src/config/settings.js';
import { RefusedError, ServiceError } from '../../src/errors/index.js';
import { windowId } from '../../src/contracts/window.js';
import { createKafka } from '../../src/transport/kafka.js';
import { KafkaOutput } from '../../src/transport/kafka-output.js';
import { createOutput } from '../../src/transport/output.js';
import { keyPartition } from '../../src/transport/partitioner.js';
import { PlatformaticOutput } from '../../src/transport/platformatic-output.js';
import { isUnreachable } from '../../src/transport/unreachable.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { collectOutputs, readTopic, sendWindows, type Collected } from '../support/kafka.js';
import { publishModel } from '../support/models.js';
import { cleanupRedis, createTopics, testConfig, withKafkaAdmin } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

/** `n` records of `streams` streams, as seqae writes them: key = stream, a seqae-id header. */
function records(streams: number, n: number): TopicMessages['messages'] {
  return Array.from({ length: n }, (_, i) => {
    const stream = `stream-${i % streams}`;
    const seq = Math.floor(i / streams);
    return {
      key: stream,
      // Strings and buffers, as the contracts write them.
      value: i % 2 ? JSON.stringify({ stream, seq }) : Buffer.from(JSON.stringify({ stream, seq })),
      headers: { 'seqae-id': `${stream}:${seq}`, 'seqae-bytes': Buffer.from([i % 256, 0, 255]) },
    };
  });
}

const configs: SeqaeConfig[] = [];
afterAll(async () => {
  for (const c of configs) await cleanupRedis(c);
});

function config(name: string, overrides: Record<string, string> = {}): SeqaeConfig {
  const c = testConfig(`pkafka-${name}`, { KAFKA_PRODUCER_CLIENT: 'platformatic', ...overrides });
  configs.push(c);
  return c;
}

describe('PlatformaticOutput', () => {
  it('is what createOutput makes by default, KafkaOutput with KAFKA_PRODUCER_CLIENT=kafkajs', async () => {
    const c = config('factory');
    const kafka = createKafka(c);
    const chosen = createOutput(c, kafka);
    const plain = createOutput(config('factory', { KAFKA_PRODUCER_CLIENT: 'kafkajs' }), kafka);
    expect(settings.kafka.producerClient.default).toBe('platformatic');
    expect(chosen).toBeInstanceOf(PlatformaticOutput);
    expect(plain).toBeInstanceOf(KafkaOutput);
    await Promise.all([chosen.close(), plain.close()]);
  });

  it('writes key, value and headers intact, in order, on the partition kafkajs chooses', async () => {
    // A small request limit: the send goes out as several requests, in order.
    const c = config('records', { KAFKA_MAX_REQUEST_BYTES: '4096', KAFKA_COMPRESSION: 'gzip' });
    const [viaPlatformatic, viaKafkajs] = [`${c.topics.windows}.pk`, `${c.topics.windows}.kj`];
    const partitions = 7;
    await createTopics(c, [viaPlatformatic, viaKafkajs], partitions);
    const sent = records(40, 600);

    const out = createOutput(c, createKafka(c));
    await out.connect();
    await out.send([{ topic: viaPlatformatic, messages: sent.slice(0, 300) }]);
    await out.send([{ topic: viaPlatformatic, messages: sent.slice(300) }]);
    await out.close();
    const kafkajs = new KafkaOutput(createKafka(c), { compression: 'gzip' });
    await kafkajs.send([{ topic: viaKafkajs, messages: sent }]);
    await kafkajs.close();

    const [got, reference] = await Promise.all([
      readTopic(c, viaPlatformatic),
      readTopic(c, viaKafkajs),
    ]);
    expect(got).toHaveLength(sent.length);
    const partitionOf = new Map(reference.map((m) => [m.key!.toString(), m.partition]));
    const byId = new Map(got.map((m) => [m.headers!['seqae-id']!.toString(), m]));
    sent.forEach((s, i) => {
      const m = byId.get(String(s.headers!['seqae-id']))!;
      expect(m.key!.toString()).toBe(s.key);
      expect(m.value!.toString()).toBe(s.value!.toString());
      expect(m.headers!['seqae-bytes']).toEqual(Buffer.from([i % 256, 0, 255]));
      expect(m.partition).toBe(keyPartition(String(s.key), partitions));
      expect(m.partition).toBe(partitionOf.get(String(s.key)));
    });
    // Each stream's records in the order sent (offsets rise with seq on its partition).
    const seqs = new Map<string, number[]>();
    for (const m of [...got].sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset))))
      seqs.set(m.key!.toString(), [
        ...(seqs.get(m.key!.toString()) ?? []),
        JSON.parse(m.value!.toString()).seq,
      ]);
    for (const list of seqs.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
  });

  it('after a send that timed out, the next waits for its attempt to end and takes a new producer id: nothing is dropped as a copy', async () => {
    const c = config('timed-out');
    const topic = `${c.topics.windows}-timed-out`;
    await createTopics(c, [topic], 1);
    const out = new PlatformaticOutput(c, { compression: 'none', sendTimeoutMs: 100 });
    await out.connect();
    const firstId = out.producer.producerId;
    // A broker slow to answer the first request: it is acknowledged after the send has given up.
    const send = out.producer.send.bind(out.producer);
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    Object.assign(out.producer, {
      send: async (...args: Parameters<typeof send>) => {
        most = Math.max(most, ++inFlight);
        try {
          if (calls++ === 0) await new Promise((r) => setTimeout(r, 400));
          return await send(...args);
        } finally {
          inFlight--;
        }
      },
    });
    const sent = records(1, 20);
    const timedOut = await out.send([{ topic, messages: sent.slice(0, 10) }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(timedOut).toBeInstanceOf(ServiceError);
    expect((timedOut as Error).message).toMatch(/not acknowledged in 100 ms/);
    await out.send([{ topic, messages: sent.slice(10) }]);
    await out.close();
    expect(most).toBe(1);
    expect(out.producer.producerId).not.toBe(firstId);
    // The timed-out request was written after all, and the next is not taken for a copy of it.
    const got = await readTopic(c, topic);
    expect(got.map((m) => m.headers!['seqae-id']!.toString())).toEqual(
      sent.map((m) => String((m.headers as Record<string, string>)['seqae-id'])),
    );
  });

  it('fails with an unreachable error, at connect and at send, when no broker answers', async () => {
    const c = config('unreachable', { KAFKA_BROKERS: '127.0.0.1:1' });
    const out = new PlatformaticOutput(c, { compression: 'none', sendTimeoutMs: 5_000 });
    const started = Date.now();
    const connecting = await out.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUnreachable(connecting)).toBe(true);
    const sending = await out.send([{ topic: 'any', messages: [{ key: 'k', value: 'v' }] }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUnreachable(sending)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    await out.close();
  });

  it('fails at once with a non-retriable RefusedError when the broker refuses a record', async () => {
    // kafkajs' consumer retries a batch for ever on an error not marked `retriable: false`: a
    // stream worker whose outputs a topic refuses would never report (worker-lifecycle's test).
    const c = config('refused');
    const topic = `${c.topics.windows}-refusing`;
    await withKafkaAdmin(c, (admin) =>
      admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '200' }] },
        ],
      }),
    );
    const out = new PlatformaticOutput(c, { compression: 'none', sendTimeoutMs: 30_000 });
    const started = Date.now();
    const err = await out.send([{ topic, messages: [{ key: 'k', value: 'x'.repeat(1000) }] }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as RefusedError).retriable).toBe(false);
    expect((err as Error).message).toMatch(/^kafka: .*larger than the max message size/);
    expect(isUnreachable(err)).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
    await out.close();
  });
});

describe.each(['platformatic', 'kafkajs'] as const)(
  'a stream worker producing with KAFKA_PRODUCER_CLIENT=%s',
  (client) => {
    let worker: WorkerProcess | undefined;
    let outputs: Collected | undefined;
    afterAll(async () => {
      await worker?.stop();
      await outputs?.stop();
    });

    it("publishes every window's four outputs, each stream on kafkajs' partition", async () => {
      const c = config(`worker-${client}`, {
        SEQAE_HTTP_PORT: '0',
        SEQAE_ROLES: 'stream',
        KAFKA_PRODUCER_CLIENT: client,
      });
      expect(c.kafka.producerClient).toBe(client);
      const nIn = 8;
      const streams = ['pk-a', 'pk-b', 'pk-c', 'pk-d'].map((s) => `${s}-${client}`);
      const partitions = 3;
      await initBackend('auto');
      await createTopics(c, Object.values(c.topics), partitions);
      for (const s of streams) await publishModel(c, s, nIn, 8);
      outputs = await collectOutputs(c, `pkafka-worker-${client}`);
      worker = await WorkerProcess.start(
        c,
        pino({ level: process.env.E2E_LOG ?? 'warn' }, pino.destination(2)),
      );
      const windows = streams.flatMap((s) => sineWindows(s, 150, nIn));
      await sendWindows(c, windows);
      const produced = new Set(windows.map(windowId));
      const names = ['reconstructions', 'predictions', 'embeddings', 'anomalies'];
      await waitFor(
        "every window's outputs",
        () => names.every((n) => outputs!.ids(n).size >= produced.size),
        150_000,
        500,
      );
      for (const n of names) expect(outputs.ids(n)).toEqual(produced);
      expect(outputs.messages.get('dlq')).toHaveLength(0);

      for (const n of ['anomalies', 'embeddings'] as const) {
        const read = await readTopic(c, c.topics[n]);
        for (const m of read) expect(m.partition).toBe(keyPartition(m.key!, partitions));
      }
    });
  },
);
