/**
 * A stream worker under ordinary load: a burst of windows produced at full speed (gzip-compressed, so
 * one Kafka fetch hands the worker thousands of them) for a stream whose model exists, with the
 * default settings and with the largest window the settings allow; and hostile messages written by
 * an external client. Before the fix, the outputs of a whole fetch went out in one request larger
 * than the broker's 1 MB limit and the consumer crashed for good while /readyz said 200.
 */
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import type { SeqaeConfig } from '../../src/config/index.js';
import { KafkaWindowSink } from '../../src/producer/sinks/kafka.js';
import { createOutput } from '../../src/transport/output.js';
import { createKafka } from '../../src/transport/kafka.js';
import { dlqOriginal, parseDlq } from '../../src/contracts/dead-letter.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { collectOutputs, type Collected } from '../support/kafka.js';
import { publishModel } from '../support/models.js';
import { cleanupRedis, createTopics, testConfig } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

const quiet = pino({ level: process.env.E2E_LOG ?? 'warn' }, pino.destination(2));

/** Sends windows through seqae's own Kafka sink (gzip, batched), as `seqae produce` does. */
async function produce(config: SeqaeConfig, windows: ReturnType<typeof sineWindows>) {
  const out = createOutput(config, createKafka(config, { clientId: 'load-producer' }), {
    clientId: 'load-producer',
  });
  const sink = new KafkaWindowSink(out, config.topics.windows);
  for (let i = 0; i < windows.length; i += 2000) await sink.send(windows.slice(i, i + 2000));
  await out.close();
}

async function readyStatus(worker: WorkerProcess): Promise<number> {
  return (await fetch(`${worker.http.url}/readyz`)).status;
}

describe('stream worker under load', () => {
  let worker: WorkerProcess | undefined;
  let outputs: Collected | undefined;

  beforeAll(async () => {
    // As a user's worker: training on tfjs, scoring on ONNX Runtime (the first choice wins per process).
    await initBackend('auto');
  });
  afterEach(async () => {
    await worker?.stop();
    await outputs?.stop();
    worker = outputs = undefined;
  });

  async function run(config: SeqaeConfig, name: string, nIn: number, units: number, count: number) {
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 1);
    await publishModel(config, name, nIn, units);
    outputs = await collectOutputs(config, name);
    worker = await WorkerProcess.start(config, quiet);
    const windows = sineWindows(name, count, nIn);
    await produce(config, windows);
    const topics = ['reconstructions', 'predictions', 'embeddings', 'anomalies'];
    await waitFor(
      `${count} windows scored on every output topic`,
      () => topics.every((t) => outputs!.ids(t).size === count),
      150_000,
      500,
    );
    for (const t of topics) expect(outputs.ids(t).size).toBe(count);
    expect(outputs.messages.get('dlq')).toHaveLength(0);
    expect(await readyStatus(worker)).toBe(200);
  }

  it('scores every window of a 20,000-window burst with the default settings', async () => {
    const config = testConfig('load-default', { SEQAE_HTTP_PORT: '0', SEQAE_ROLES: 'stream' });
    // The defaults this test is about: the seed's window, 100 units, micro-batches of 256.
    expect(config.producer.window).toBe(9);
    expect(config.worker.model.units).toBe(100);
    await run(config, 'burst', config.producer.window, config.worker.model.units, 20_000);
  });

  it('scores every window of a burst of the largest windows the settings allow', async () => {
    const config = testConfig('load-largest', { SEQAE_HTTP_PORT: '0', SEQAE_ROLES: 'stream' });
    // 4096 readings a window: each reconstruction and prediction is ~80 kB of JSON.
    await run(config, 'largest', 4096, 4, 300);
  });
});

describe('hostile messages on the windows topic', () => {
  it('dead-letters a 900 kB non-JSON message (truncated, with its length and hash) and goes on', async () => {
    const config = testConfig('hostile-big', {
      SEQAE_HTTP_PORT: '0',
      SEQAE_ROLES: 'stream',
    });
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 1);
    const outputs = await collectOutputs(config, 'hostile-big');
    const worker = await WorkerProcess.start(config, quiet);
    try {
      const big = Buffer.alloc(900_000, 'x');
      const kcat = (input: Buffer) =>
        new Promise<void>((resolve, reject) => {
          const args = ['-b', config.kafka.brokers.join(','), '-P', '-t', config.topics.windows];
          const p = spawn('kcat', [...args, '-k', 'evil'], { stdio: ['pipe', 'ignore', 'pipe'] });
          let err = '';
          p.stderr.on('data', (d: Buffer) => (err += d.toString()));
          p.on('error', reject);
          p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat: ${err}`))));
          p.stdin.end(input);
        });
      await kcat(big);
      await kcat(Buffer.from('not json'));
      await waitFor('two dead letters', () => outputs.messages.get('dlq')!.length >= 2, 60_000);
      const letters = outputs.messages.get('dlq')!.map((m) => parseDlq(JSON.stringify(m.value)));
      const [first, second] = letters;
      expect(first!.reason).toBe('bad_json');
      expect(first!.truncated).toBe(true);
      expect(first!.originalBytes).toBe(900_000);
      expect(first!.originalSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(dlqOriginal(first!).length).toBe(config.dlqOriginalMaxBytes);
      expect(second!.reason).toBe('bad_json');
      expect(second!.truncated).toBeUndefined();
      expect(dlqOriginal(second!).toString()).toBe('not json');
      expect(await readyStatus(worker)).toBe(200);
    } finally {
      await worker.stop();
      await outputs.stop();
    }
  });
});
