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
import {
  INFER_BULK_JOB_NAME,
  INFER_JOB_NAME,
  inferBulkJob,
  type InferBulkJobResult,
} from '../../src/contracts/jobs.js';
import { ModelCache } from '../../src/scoring/model-cache.js';
import { WindowStore } from '../../src/training/window-store.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { datasetFromStreams } from '../../src/training/training.js';
import { cleanupRedis, createTopics, testConfig, withKafkaAdmin } from '../support/services.js';
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

  it('answers an infer job with its anomaly output and publishes every output', async () => {
    const [w] = sineWindows('infer-stream', 1, NIN, 5);
    const id = `infer-stream:${w!.seq}`;
    const job = await queue.add(INFER_JOB_NAME, w, { jobId: `infer-stream@${w!.seq}` });
    const result = (await job.waitUntilFinished(events, 60_000)) as Record<string, unknown>;
    // The result is the anomaly output only (SEQAE_INFER_RESULT=anomaly): the matrices are on Kafka.
    expect(result).toMatchObject({ v: 1, id, modelId: 'infer-stream', modelVersion: 1 });
    expect(typeof result.score).toBe('number');
    expect(Object.keys(result)).not.toContain('embedding');
    await waitFor(
      'published outputs',
      () =>
        ['reconstructions', 'predictions', 'embeddings', 'anomalies'].every((n) =>
          outputs.ids(n).has(id),
        ),
      30_000,
    );
    const embedding = outputs.messages.get('embeddings')!.find((m) => m.headers['seqae-id'] === id);
    expect((embedding!.value.embedding as number[]).length).toBe(6);
  });

  it('scores a bulk job of several streams with one output set per window', async () => {
    const windows = [
      ...sineWindows('infer-stream', 3, NIN, 40),
      ...sineWindows('infer-stream', 2, NIN, 60).map((w) => ({ ...w, seq: w.seq + 1000 })),
    ];
    const { name, data, opts } = inferBulkJob(windows);
    const job = await queue.add(name, data, opts);
    const result = (await job.waitUntilFinished(events, 60_000)) as InferBulkJobResult;
    const ids = windows.map((w) => `infer-stream:${w.seq}`);
    expect(result.windows.map((e) => (e.ok ? (e.result as { id: string }).id : e))).toEqual(ids);
    await waitFor(
      'an output set per window',
      () =>
        ['reconstructions', 'predictions', 'embeddings', 'anomalies'].every((n) =>
          ids.every((id) => outputs.ids(n).has(id)),
        ),
      30_000,
    );
    for (const n of ['reconstructions', 'predictions', 'embeddings', 'anomalies'])
      for (const id of ids)
        expect(outputs.messages.get(n)!.filter((m) => m.headers['seqae-id'] === id)).toHaveLength(
          1,
        );
    // One stream's windows in one job are published in seq order.
    const seqs = outputs.messages
      .get('anomalies')!
      .map((m) => m.value.seq as number)
      .filter((seq) => ids.includes(`infer-stream:${seq}`));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // Recorded for training, as window jobs' windows are (one transaction per model and round).
    const redis = createRedis(config);
    const store = new WindowStore(redis, {
      prefix: config.redis.keyPrefix,
      trainWindows: config.worker.trainWindows,
      pendingLimit: config.worker.pendingLimit,
    });
    const recent = new Set((await store.recent('infer-stream')).map((r) => r.seq));
    redis.disconnect();
    expect(windows.filter((w) => !recent.has(w.seq))).toEqual([]);
    // The same windows again are the same job: not added twice.
    expect((await queue.add(name, data, opts)).id).toBe(job.id);
  });

  it('dead-letters the bad windows of a bulk job, scores the others, defers the unmodelled', async () => {
    const [a, b] = sineWindows('infer-stream', 2, NIN, 80);
    const [orphan] = sineWindows('bulk-no-model', 1, NIN, 3);
    const ragged = { v: 1, streamId: 'bulk-bad', seq: 7, end: 0, step: 1, values: [[1], [2, 3]] };
    const wide = sineWindows('infer-stream', 1, NIN + 2, 90)[0]!;
    const items = [a, ragged, wide, 'not a window', orphan, b];
    const job = await queue.add(INFER_BULK_JOB_NAME, { windows: items }, { jobId: 'bulk-bad-1' });
    const result = (await job.waitUntilFinished(events, 60_000)) as InferBulkJobResult;
    const e = result.windows;
    expect(e.map((x) => (x.ok ? 'ok' : x.reason))).toEqual([
      'ok',
      'ragged',
      'shape_mismatch',
      'bad_json', // a string is read as a window's JSON text
      'no_model',
      'ok',
    ]);
    expect(e[4]).toMatchObject({ job: `bulk-no-model@${orphan!.seq}` });
    expect(await queue.getJob(`bulk-no-model@${orphan!.seq}`)).toBeDefined();
    await waitFor(
      'the good windows scored',
      () => [a, b].every((w) => outputs.ids('anomalies').has(`infer-stream:${w!.seq}`)),
      30_000,
    );
    await waitFor(
      'three dead letters of the job',
      () =>
        outputs.messages
          .get('dlq')!
          .filter((m) =>
            String(m.value.source).startsWith(`bullmq:${config.queues.infer}/bulk-bad-1#`),
          ).length === 3,
      30_000,
    );
    const letters = outputs.messages
      .get('dlq')!
      .map((m) => parseDlq(JSON.stringify(m.value)))
      .filter((l) => l.source.includes('/bulk-bad-1#'));
    expect(letters.map((l) => [l.reason, l.source.split('#')[1]]).sort()).toEqual([
      ['bad_json', '3'],
      ['ragged', '1'],
      ['shape_mismatch', '2'],
    ]);
    const original = (i: number) =>
      Buffer.from(letters.find((l) => l.source.endsWith(`#${i}`))!.original, 'base64').toString();
    expect(JSON.parse(original(1))).toEqual(ragged);
    expect(JSON.parse(original(3))).toBe('not a window');
    // A bulk job with no windows at all fails at once with the reason.
    const empty = await queue.add(INFER_BULK_JOB_NAME, { windows: [] }, { attempts: 3 });
    await expect(empty.waitUntilFinished(events, 30_000)).rejects.toThrow(/schema: windows/);
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
    const fromKafka = () =>
      outputs.messages
        .get('dlq')!
        .map((m) => parseDlq(JSON.stringify(m.value)))
        .filter((l) => l.source.startsWith('kafka:'));
    await waitFor('dead letters', () => fromKafka().length >= 3, 60_000);
    const letters = fromKafka();
    expect(letters.map((l) => l.reason)).toEqual(['bad_json', 'unknown_version', 'non_finite']);
    expect(letters.map((l) => Buffer.from(l.original, 'base64').toString('utf8'))).toEqual(bad);
    // Bad input did not take the worker down: it still reports ready.
    const res = await fetch(`${worker.http.url}/readyz`);
    expect(res.status).toBe(200);
  });
});

describe('an infer worker that does not publish (SEQAE_INFER_PUBLISH=false)', () => {
  const quiet = testConfig('worker-parts-quiet', {
    SEQAE_HTTP_PORT: '0',
    SEQAE_BACKEND: 'wasm',
    SEQAE_INFER_PUBLISH: 'false',
  });
  let worker: WorkerProcess;
  const connection = createRedis(quiet, { bullmq: true });
  const queue = new Queue(quiet.queues.infer, { connection, prefix: quiet.queues.prefix });
  const events = new QueueEvents(quiet.queues.infer, {
    connection: createRedis(quiet, { bullmq: true }),
    prefix: quiet.queues.prefix,
  });

  beforeAll(async () => {
    await initBackend('wasm');
    await createTopics(quiet, Object.values(quiet.topics), 1);
    const redis = createRedis(quiet);
    const m = SequenceAutoencoder.create({ nIn: NIN, units: 6 });
    await new ModelRegistry(redis, { prefix: quiet.redis.keyPrefix, keep: 2 }).publish(
      'quiet-stream',
      await trainedArtifact(5),
      meta(m),
    );
    m.dispose();
    redis.disconnect();
    await events.waitUntilReady();
    worker = await WorkerProcess.start(quiet, pino({ level: 'warn' }, pino.destination(2)));
  });
  afterAll(async () => {
    await worker?.stop();
    await events.close();
    await queue.close();
    await cleanupRedis(quiet);
  });

  it('keeps every output in the job result, the only place they go', async () => {
    const windows = sineWindows('quiet-stream', 2, NIN, 5);
    const single = await queue.add(INFER_JOB_NAME, windows[0]!);
    const result = (await single.waitUntilFinished(events, 60_000)) as Record<
      string,
      Record<string, unknown>
    >;
    expect((result.reconstructions!.reconstruction as number[][]).length).toBe(NIN);
    expect((result.predictions!.prediction as number[][]).length).toBe(NIN);
    expect((result.embeddings!.embedding as number[]).length).toBe(6);
    expect(result.anomalies!.id).toBe(`quiet-stream:${windows[0]!.seq}`);
    const { name, data, opts } = inferBulkJob(windows);
    const bulk = await queue.add(name, data, opts);
    const entries = ((await bulk.waitUntilFinished(events, 60_000)) as InferBulkJobResult).windows;
    expect(entries.map((e) => e.ok && Object.keys(e.result).sort())).toEqual([
      ['anomalies', 'embeddings', 'predictions', 'reconstructions'],
      ['anomalies', 'embeddings', 'predictions', 'reconstructions'],
    ]);
    const ends = await withKafkaAdmin(quiet, (a) => a.fetchTopicOffsets(quiet.topics.anomalies));
    expect(ends.map((p) => p.high)).toEqual(['0']);
  });
});
