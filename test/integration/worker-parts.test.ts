import { Queue, QueueEvents } from 'bullmq';
import { pino } from 'pino';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { ModelRegistry, type ModelUpdated } from '../../src/model-registry/index.js';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { parseDlq } from '../../src/contracts/dead-letter.js';
import { INFER_JOB_NAME } from '../../src/contracts/jobs.js';
import { ModelCache } from '../../src/worker/model-cache.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { datasetFromStreams } from '../../src/worker/training.js';
import { cleanupRedis, createTopics, testConfig } from '../support/services.js';
import { collectOutputs, type Collected } from '../support/kafka.js';
import { waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

const NIN = 10;
const config = testConfig('worker-parts', {
  SEQAE_HTTP_PORT: '0',
  SEQAE_BACKEND: 'wasm',
  SEQAE_MODEL_CACHE: '2',
});
const meta = (m: SequenceAutoencoder) => ({
  variant: m.config.variant,
  config: { ...m.config },
  streams: [],
  createdAt: Date.now(),
});

async function trainedArtifact(seed: number): Promise<Uint8Array> {
  const model = SequenceAutoencoder.create({ nIn: NIN, units: 6, epochs: 2, seed });
  await model.train(datasetFromStreams(model, sineWindows('s', 40, NIN)));
  const bytes = await model.save();
  model.dispose();
  return bytes;
}

describe('model registry and cache (real Redis)', () => {
  const redis = createRedis(config);
  const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 2 });
  let artifacts: Uint8Array[];

  beforeAll(async () => {
    await initBackend('wasm');
    await cleanupRedis(config);
    artifacts = [await trainedArtifact(1), await trainedArtifact(2), await trainedArtifact(3)];
  });
  afterAll(async () => {
    await registry.close();
    redis.disconnect();
  });

  it('numbers versions, keeps the newest `keep`, and announces each one', async () => {
    const notices: ModelUpdated[] = [];
    await registry.subscribe();
    registry.on('updated', (n) => notices.push(n));
    const m = SequenceAutoencoder.create({ nIn: NIN, units: 6 });
    for (const a of artifacts) await registry.publish('reg-a', a, meta(m));
    m.dispose();
    expect(await registry.latestVersion('reg-a')).toBe(3);
    expect(await registry.versions('reg-a')).toEqual([2, 3]);
    expect(await registry.get('reg-a', 1)).toBeUndefined();
    const v3 = await registry.get('reg-a');
    expect(v3!.meta.version).toBe(3);
    expect(Buffer.compare(v3!.artifact, Buffer.from(artifacts[2]!))).toBe(0);
    await waitFor('three notices', () => notices.length === 3, 5000, 20);
    expect(notices.map((n) => n.version)).toEqual([1, 2, 3]);
    expect(await registry.get('no-such-model')).toBeUndefined();
  });

  it('lists model ids, and deletes one version or a whole model with the pointer kept true', async () => {
    const m = SequenceAutoencoder.create({ nIn: NIN, units: 6 });
    for (const a of artifacts) await registry.publish('del-a', a, meta(m));
    await registry.publish('del-b', artifacts[0]!, meta(m));
    m.dispose();
    expect(await registry.list()).toEqual(expect.arrayContaining(['del-a', 'del-b', 'reg-a']));
    expect(await registry.versions('del-a')).toEqual([2, 3]);

    expect(await registry.delete('del-a', 3)).toEqual([3]);
    expect(await registry.versions('del-a')).toEqual([2]);
    expect(await registry.latestVersion('del-a')).toBe(2);
    expect((await registry.get('del-a'))!.meta.version).toBe(2);
    expect(await registry.delete('del-a', 3)).toEqual([]);

    expect(await registry.delete('del-a')).toEqual([2]);
    expect(await registry.latestVersion('del-a')).toBeUndefined();
    expect(await registry.get('del-a')).toBeUndefined();
    expect(await redis.keys(`${config.redis.keyPrefix}:model:{del-a}:v:*`)).toEqual([]);
    expect(await registry.list()).not.toContain('del-a');
    expect(await registry.list()).toContain('del-b');

    // Numbers are never given twice: a new version after a deletion follows the deleted ones.
    const again = SequenceAutoencoder.create({ nIn: NIN, units: 6 });
    expect(await registry.publish('del-a', artifacts[0]!, meta(again))).toBe(4);
    again.dispose();
  });

  it('caches at most `max` models and frees the tensors of evicted and replaced ones', async () => {
    const m = SequenceAutoencoder.create({ nIn: NIN, units: 6 });
    for (const id of ['c1', 'c2', 'c3']) await registry.publish(id, artifacts[0]!, meta(m));
    m.dispose();
    const cache = new ModelCache(registry, { max: 2, recheckMs: 0 });
    const before = tf.memory().numTensors;
    const versionOf = (id: string) => cache.use(id, async (l) => l.version);
    expect(await versionOf('c1')).toBe(1);
    const one = tf.memory().numTensors - before;
    expect(one).toBeGreaterThan(0);
    await versionOf('c2');
    await versionOf('c3'); // evicts c1
    expect(cache.size).toBe(2);
    expect(tf.memory().numTensors - before).toBe(2 * one);
    // A newer version replaces the cached one; the old one's tensors go.
    const m2 = SequenceAutoencoder.create({ nIn: NIN, units: 6 });
    await registry.publish('c3', artifacts[1]!, meta(m2));
    m2.dispose();
    expect(await versionOf('c3')).toBe(2);
    expect(tf.memory().numTensors - before).toBe(2 * one);
    // A model in use is not disposed under the caller's feet.
    const held = cache.use('c2', async (l) => {
      await versionOf('c1'); // evicts c2 while it is held
      return (await l.model.infer(sineWindows('x', 1, NIN).map((w) => w.values))).count;
    });
    expect(await held).toBe(1);
    cache.clear();
    expect(tf.memory().numTensors).toBe(before);
    expect(await cache.use('missing', async () => 1)).toBeUndefined();
  });
});

describe('infer worker and dead letters (real Redis, Kafka and BullMQ)', () => {
  let worker: WorkerProcess;
  let outputs: Collected;
  const connection = createRedis(config, { bullmq: true });
  const queue = new Queue(config.queues.infer, { connection, prefix: config.queues.prefix });
  const events = new QueueEvents(config.queues.infer, {
    connection: createRedis(config, { bullmq: true }),
    prefix: config.queues.prefix,
  });

  beforeAll(async () => {
    await initBackend('wasm');
    await createTopics(config, Object.values(config.topics), 1);
    const redis = createRedis(config);
    const m = SequenceAutoencoder.create({ nIn: NIN, units: 6 });
    await new ModelRegistry(redis, {
      prefix: config.redis.keyPrefix,
      keep: config.worker.modelKeep,
    }).publish('infer-stream', await trainedArtifact(4), meta(m));
    m.dispose();
    redis.disconnect();
    outputs = await collectOutputs(config, 'worker-parts');
    await events.waitUntilReady();
    worker = await WorkerProcess.start(config, pino({ level: 'warn' }, pino.destination(2)));
  });
  afterAll(async () => {
    await worker?.stop();
    await outputs?.stop();
    await events.close();
    await queue.close();
  });

  it('answers an infer job with every output and publishes them', async () => {
    const [w] = sineWindows('infer-stream', 1, NIN, 5);
    const job = await queue.add(INFER_JOB_NAME, w, { jobId: `infer-stream@${w!.seq}` });
    const result = (await job.waitUntilFinished(events, 60_000)) as Record<
      string,
      Record<string, unknown>
    >;
    expect((result.reconstructions!.reconstruction as number[][]).length).toBe(NIN);
    expect((result.predictions!.prediction as number[][]).length).toBe(NIN);
    expect((result.embeddings!.embedding as number[]).length).toBe(6);
    expect(result.anomalies!.id).toBe(`infer-stream:${w!.seq}`);
    await waitFor(
      'published outputs',
      () => outputs.ids('embeddings').has(`infer-stream:${w!.seq}`),
      30_000,
    );
  });

  it('fails an invalid infer job at once with the reason, and keeps working', async () => {
    const job = await queue.add(
      INFER_JOB_NAME,
      { v: 1, streamId: 'infer-stream', seq: 1, end: 0, step: 1, values: [[1], [2, 3]] },
      { attempts: 3 },
    );
    await expect(job.waitUntilFinished(events, 30_000)).rejects.toThrow(/ragged/);
    const failed = await queue.getJob(job.id!);
    expect(failed!.attemptsMade).toBe(1);
    const wrongShape = await queue.add(
      INFER_JOB_NAME,
      sineWindows('infer-stream', 1, NIN + 2, 9)[0]!,
    );
    await expect(wrongShape.waitUntilFinished(events, 30_000)).rejects.toThrow(/shape_mismatch/);
  });

  it('sends malformed window messages to the DLQ with the reason and original bytes', async () => {
    const producer = createKafka(config, { clientId: 'dlq-test' }).producer();
    await producer.connect();
    const bad = [
      '{not json',
      JSON.stringify({ v: 9, streamId: 'x', seq: 1, end: 0, step: 1, values: [[1]] }),
      JSON.stringify({
        v: 1,
        streamId: 'x',
        seq: 2,
        end: 0,
        step: 1,
        values: [[1], [Infinity]],
      }).replace('null', '1e999'),
    ];
    await producer.send({
      topic: config.topics.windows,
      messages: bad.map((value) => ({ key: 'x', value })),
    });
    await producer.disconnect();
    await waitFor('dead letters', () => outputs.messages.get('dlq')!.length >= 3, 60_000);
    const letters = outputs.messages.get('dlq')!.map((m) => parseDlq(JSON.stringify(m.value)));
    expect(letters.map((l) => l.reason)).toEqual(['bad_json', 'unknown_version', 'non_finite']);
    expect(letters.map((l) => Buffer.from(l.original, 'base64').toString('utf8'))).toEqual(bad);
    // Bad input did not take the worker down: it still reports ready.
    const res = await fetch(`${worker.http.url}/readyz`);
    expect(res.status).toBe(200);
  });
});
