import { QueueEvents, Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { CsvSource } from '../../src/producer/sources/csv.js';
import { KafkaWindowSink } from '../../src/producer/sinks/kafka.js';
import { createOutput } from '../../src/transport/output.js';
import { ProducerPipeline } from '../../src/producer/pipeline.js';
import { CHECKPOINT_INTERVAL_MS, LINGER_MS } from '../../src/producer/timing.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { windowId } from '../../src/contracts/window.js';
import { WorkerProcess } from '../../src/worker/process.js';
import type { TrainProgress } from '../../src/contracts/jobs.js';
import { cleanupRedis, createTopics, testConfig } from '../support/services.js';
import { collectOutputs, sendWindows, type Collected } from '../support/kafka.js';
import { waitFor } from '../support/wait.js';
import { plainWindowing, sineWindows } from '../support/windows.js';

const NIN = 16;
const UNITS = 16;
const EPOCHS = 25;
const config = testConfig('e2e-worker', {
  SEQAE_WARMUP_WINDOWS: '300',
  SEQAE_UNITS: String(UNITS),
  SEQAE_EPOCHS: String(EPOCHS),
  SEQAE_EARLY_STOPPING_PATIENCE: '0', // every epoch runs: the test follows their progress
  SEQAE_LEARNING_RATE: '0.01',
  SEQAE_HTTP_PORT: '0',
  SEQAE_BATCH_WAIT_MS: '50',
  SEQAE_BACKEND: 'wasm',
});
const nab = new URL('../fixtures/nab/realTraffic/speed_7578.csv', import.meta.url).pathname;

describe('worker end to end: NAB windows in, outputs for every window out', () => {
  let worker: WorkerProcess;
  let outputs: Collected;
  let events: QueueEvents;
  const progress: TrainProgress[] = [];
  const produced = new Set<string>();
  const sine = sineWindows('sine-clean', 400, NIN);
  const health: { training: boolean; status: number }[] = [];

  beforeAll(async () => {
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 2);
    events = new QueueEvents(config.queues.train, {
      connection: createRedis(config, { bullmq: true }),
      prefix: config.queues.prefix,
    });
    events.on('progress', ({ data }) => void progress.push(data as unknown as TrainProgress));
    await events.waitUntilReady();
    outputs = await collectOutputs(config, 'e2e-worker');
    worker = await WorkerProcess.start(
      config,
      pino({ level: process.env.E2E_LOG ?? 'warn' }, pino.destination(2)),
    );
  });

  afterAll(async () => {
    await worker?.stop();
    await outputs?.stop();
    await events?.close();
  });

  it('trains each stream model through the train queue and publishes one output per window per topic', async () => {
    // The NAB file through seqae's own producer (CSV source → windows → Kafka).
    const out = createOutput(config, createKafka(config, { clientId: 'e2e-producer' }), {
      clientId: 'e2e-producer',
    });
    const pipeline = new ProducerPipeline({
      windows: { ...plainWindowing, nIn: NIN },
      sinks: [new KafkaWindowSink(out, config.topics.windows)],
      batchSize: config.producer.batch,
      maxInFlight: config.producer.inFlight,
      lingerMs: LINGER_MS,
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
    });
    pipeline.on('sent', (_sink, ws) => ws.forEach((w) => produced.add(windowId(w))));
    const { maxLineBytes } = config.producer;
    await pipeline.run(
      new CsvSource({
        path: nab,
        header: true,
        delimiter: ',',
        streamId: 'speed_7578',
        maxLineBytes,
      }),
    );
    await out.close();
    await sendWindows(config, sine);
    for (const w of sine) produced.add(windowId(w));
    expect(produced.size).toBeGreaterThan(1000);

    // While a model trains (in a child process), the worker still answers its health check.
    const trainQueue = new Queue(config.queues.train, {
      connection: createRedis(config, { bullmq: true }),
      prefix: config.queues.prefix,
    });
    const poll = setInterval(async () => {
      const training = (await trainQueue.getActiveCount()) > 0;
      const res = await fetch(`${worker.http.url}/healthz`).catch(() => undefined);
      health.push({ training, status: res?.status ?? 0 });
    }, 100);
    try {
      await waitFor(
        'every output of every window',
        () =>
          ['reconstructions', 'predictions', 'embeddings', 'anomalies'].every(
            (n) => outputs.ids(n).size >= produced.size,
          ),
        Number(process.env.E2E_TIMEOUT ?? 150_000),
      );
    } finally {
      clearInterval(poll);
      await trainQueue.close();
    }

    for (const name of ['reconstructions', 'predictions', 'embeddings', 'anomalies']) {
      expect(outputs.ids(name)).toEqual(produced);
    }
    const recon = outputs.messages.get('reconstructions')!;
    for (const m of recon) {
      const rows = m.value.reconstruction as number[][];
      expect(rows.length).toBe(NIN);
      expect(rows.every((r) => r.length === 1 && Number.isFinite(r[0]))).toBe(true);
      expect(m.value.modelVersion).toBe(1);
      expect(m.value.id).toBe(m.headers['seqae-id']);
    }
    for (const m of outputs.messages.get('embeddings')!)
      expect((m.value.embedding as number[]).length).toBe(UNITS);
    for (const m of outputs.messages.get('predictions')!)
      expect((m.value.prediction as number[][]).length).toBe(NIN);
    // The numeric topics in compact form (contract v2, announced by a header), anomalies in JSON; the
    // collector read every record of every window through decodeOutput.
    for (const name of ['reconstructions', 'predictions', 'embeddings'])
      for (const m of outputs.messages.get(name)!) {
        expect(m.value.v).toBe(2);
        expect(m.headers['seqae-encoding']).toBe('f32b64');
      }
    for (const m of outputs.messages.get('anomalies')!) {
      expect(m.value.v).toBe(1);
      expect(m.headers['seqae-encoding']).toBeUndefined();
      expect(m.value.score).toBeGreaterThanOrEqual(0);
      expect(m.value.score).toBeLessThanOrEqual(1);
    }
    // Progress per epoch reached a QueueEvents listener while the jobs ran.
    expect(progress.filter((p) => p.epochs === EPOCHS).map((p) => p.epoch)).toEqual(
      expect.arrayContaining([1, EPOCHS]),
    );
    expect(health.some((h) => h.training && h.status === 200)).toBe(true);
    expect(health.every((h) => h.status === 200)).toBe(true);
  });

  it('has learnt the clean periodic signal: reconstruction error far below an untrained model', async () => {
    const errors = outputs.messages
      .get('anomalies')!
      .filter((m) => m.value.streamId === 'sine-clean')
      .map((m) => m.value.reconstructionError as number);
    expect(errors.length).toBe(sine.length);
    const trainedMean = errors.reduce((a, b) => a + b, 0) / errors.length;

    const redis = createRedis(config);
    const version = await new ModelRegistry(redis, {
      prefix: config.redis.keyPrefix,
      keep: config.worker.modelKeep,
    }).get('sine-clean');
    redis.disconnect();
    const trained = await SequenceAutoencoder.load(version!.artifact);
    const untrained = SequenceAutoencoder.create({ ...trained.config, seed: 99 });
    untrained.normalisation = trained.normalisation;
    const r = await untrained.infer(sine.map((w) => w.values));
    const untrainedMean = r.reconstructionError!.reduce((a, b) => a + b, 0) / sine.length;
    trained.dispose();
    untrained.dispose();
    expect(trainedMean).toBeLessThan(untrainedMean / 4);
  });
});
