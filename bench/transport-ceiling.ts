/**
 * The transport ceiling `kafka.passthrough.1to4`: seqae's messaging and nothing else. A consumer
 * configured as a stream worker's (group, fetch wait, partitions consumed at once, manual commits)
 * takes window records in slices of SEQAE_BATCH_MAX, and for each window sends the four output
 * records seqae would send (same key, headers, and values of the same sizes, encoded by
 * `outputMessages` once for a sample window) through the worker's own output (`createOutput`: KAFKA_PRODUCER_CLIENT, idempotent,
 * acks from all replicas, requests cut as the worker cuts them), slices of concurrent partitions
 * grouped into one send by the worker's `ScoreBatcher`; then it commits, as the worker does. No
 * decoding, no model, no encoding: the gap between this and `seqae.kafka` is seqae's own work.
 *
 * It runs as `seqae.kafka`'s worker runs, in a process of its own fed by seqae's producer and counted
 * by the same collector (`kafka.passthrough.1to4`), and alone, its topic filled first and nothing
 * else running (`kafka.passthrough.1to4.alone`, information).
 */
import type { KafkaMessage, Message } from 'kafkajs';
import type { SeqaeConfig, Topics } from '../src/config/index.js';
import { outputMessages, type WindowOutputs } from '../src/contracts/outputs.js';
import { windowMessage, type Window } from '../src/contracts/window.js';
import { ScoreBatcher } from '../src/scoring/score-batcher.js';
import { createKafka } from '../src/transport/kafka.js';
import { createOutput } from '../src/transport/output.js';
import { ensureTopics } from '../src/transport/topics.js';
import { sineWindows } from '../test/support/windows.js';
import { WINDOW } from './bench-model.js';
import { cpuMeter, perWindow } from './cpu.js';
import { FleetUnderTest, WARMUP } from './fleet-under-test.js';
import type { Report } from './report.js';
import type { RunScope } from './run-scope.js';
import { waitUntil } from './wait.js';

/** The pass-through as a process of its own, started as the bench starts a worker. */
const PASS_THROUGH_WORKER = 'bench/passthrough-worker.ts';

/** A window's outputs as the bench model gives them: float32 values in the stream's units. */
export function sampleOutputs(window: Window, units: number): WindowOutputs {
  const f = (x: number) => Math.fround(x);
  const rows = (n: number, at: number) =>
    Array.from({ length: n }, (_, t) => [f(10 + 5 * Math.sin((at + t) / 3.8) + 0.01 * Math.E)]);
  return {
    window,
    modelId: 'bench-model',
    modelVersion: 1,
    reconstruction: rows(window.values.length, 0),
    prediction: rows(window.values.length, 1),
    embedding: Array.from({ length: units }, (_, i) => f(Math.tanh(Math.sin(i * 1.7) * 1.3))),
    score: f(0.4567),
    alert: false,
    reconstructionError: f(0.0123456),
    predictionError: f(0.0234567),
    scorer: 'gaussian-tail',
    reason: null,
  };
}

/** The four records of one window: the sample's values, this window's key and identity. */
function recordsOf(template: ReturnType<typeof outputMessages>, m: KafkaMessage) {
  const id = String(m.headers?.['seqae-id'] ?? '');
  return template.map(({ topic, messages: [t] }) => ({
    topic,
    message: {
      key: m.key,
      value: t!.value,
      headers: { ...t!.headers, 'seqae-id': id },
    } satisfies Message,
  }));
}

/** A running pass-through: the windows forwarded so far (their records acknowledged), and stop. */
export interface PassThrough {
  forwarded(): number;
  stop(): Promise<void>;
}

/**
 * Starts a worker-shaped consumer of `config`'s windows topic that sends seqae's four records per
 * window (a model of `units` units), from the topic's beginning.
 */
export async function startPassThrough(config: SeqaeConfig, units: number): Promise<PassThrough> {
  const topics: Topics = config.topics;
  const kafka = createKafka(config);
  const admin = kafka.admin();
  const output = createOutput(config, kafka);
  const w = config.worker;
  const consumer = kafka.consumer({
    groupId: w.groupId,
    maxWaitTimeInMs: w.batchWaitMs,
    sessionTimeout: w.sessionTimeoutMs,
    heartbeatInterval: Math.min(3000, Math.floor(w.sessionTimeoutMs / 3)),
  });
  const stop = async () => {
    await Promise.allSettled([consumer.disconnect(), output.close(), admin.disconnect()]);
  };
  try {
    await Promise.all([admin.connect(), output.connect(), consumer.connect()]);
    await ensureTopics(admin, Object.values(topics), config.kafka.topicPartitions);
  } catch (err) {
    await stop();
    throw err;
  }
  const sample = sineWindows('pass-0', 1, WINDOW)[0]!;
  const template = outputMessages(topics, [sampleOutputs(sample, units)], config.outputEncoding);
  // The worker's group commit, with "scoring" that hands back the records to send.
  type Slice = { records: ReturnType<typeof recordsOf> }[];
  const batcher = new ScoreBatcher(
    {
      score: async (_modelId, windows) => ({
        outputs: windows as unknown as WindowOutputs[],
        rejected: [],
      }),
    },
    {
      publish: async (outputs) => {
        const byTopic = new Map<string, Message[]>(template.map((t) => [t.topic, []]));
        for (const o of outputs as unknown as Slice)
          for (const r of o.records) byTopic.get(r.topic)!.push(r.message);
        await output.send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
      },
    },
    { chunk: w.batchMax, publish: true },
  );
  let forwarded = 0;
  await consumer.subscribe({ topic: topics.windows, fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: w.partitionsConcurrently,
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
      for (let i = 0; i < batch.messages.length; i += w.batchMax) {
        if (!isRunning() || isStale()) return;
        const slice = batch.messages.slice(i, i + w.batchMax);
        const items = slice.map((m) => ({ records: recordsOf(template, m) }));
        await batcher.score('bench-model', items as unknown as Window[]);
        await heartbeat();
        const last = slice.at(-1)!.offset;
        resolveOffset(last);
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
        ]);
        forwarded += slice.length;
      }
    },
  });
  return { forwarded: () => forwarded, stop };
}

/** The four records' sizes under the run's encoding, as a note. */
function recordSizes(config: SeqaeConfig, units: number): string {
  const sample = sineWindows('pass-0', 1, WINDOW)[0]!;
  const template = outputMessages(
    config.topics,
    [sampleOutputs(sample, units)],
    config.outputEncoding,
  );
  return template
    .map((t) => `${t.name} ${Buffer.byteLength(String(t.messages[0]!.value))}`)
    .join(', ');
}

/**
 * `kafka.passthrough.1to4`: the pass-through in a process of its own (`passthrough-worker.ts`) where
 * `seqae.kafka` has its stream worker, fed and counted by the same harness (seqae's producer running
 * at once in this process, the same warm-up, 100 streams, the collector of the anomalies topic),
 * timed the same way. The ratio of the two is then seqae's own work per window and nothing else.
 */
export async function kafkaPassThrough1to4(
  scope: RunScope,
  report: Report,
  sizes: { windows: number },
  units: number,
) {
  const fleet = await FleetUnderTest.start(
    scope,
    { SEQAE_BENCH_UNITS: String(units) },
    { script: PASS_THROUGH_WORKER },
  );
  try {
    report.note(`kafka.passthrough.1to4 record bytes: ${recordSizes(fleet.config, units)}`);
    await fleet.produce(WARMUP);
    const run = await fleet.produce({ prefix: 'max-', streams: 100, windows: sizes.windows });
    report.figure('kafka.passthrough.1to4', run.windows / (run.ms / 1000), 'windows/s');
    report.note(`kafka.passthrough.1to4: ${perWindow(run.cpu, run.windows, run.ms)}`);
  } finally {
    await fleet.stop();
  }
}

/**
 * `kafka.passthrough.1to4.alone` (information): the same pass-through in this process with its
 * topic filled first and nothing else running: the messaging's cost on a machine of its own.
 */
export async function kafkaPassThrough1to4Alone(
  scope: RunScope,
  report: Report,
  count: number,
  units: number,
) {
  const env = scope.env();
  const config = scope.config(env);
  const kafka = createKafka(config);
  const output = createOutput(config, kafka);
  const admin = kafka.admin();
  const fill = scope.track(() => Promise.allSettled([output.close(), admin.disconnect()]));
  // 100 streams, as the e2e section's producer makes them.
  const streams = 100;
  const per = Math.ceil(count / streams);
  try {
    await admin.connect();
    await ensureTopics(admin, Object.values(config.topics), config.kafka.topicPartitions);
    for (let s = 0; s < streams; s++)
      await output.send([
        {
          topic: config.topics.windows,
          messages: sineWindows(`pass-${s}`, per, WINDOW).map(windowMessage),
        },
      ]);
  } finally {
    await fill.release();
  }
  const total = per * streams;
  const t0 = performance.now();
  const cpu = cpuMeter([]);
  const pass = await startPassThrough(config, units);
  const running = scope.track(() => pass.stop());
  try {
    await waitUntil('the 1-to-4 pass-through', () => pass.forwarded() >= total, 300_000);
    const ms = performance.now() - t0;
    report.figure('kafka.passthrough.1to4.alone', total / (ms / 1000), 'windows/s');
    report.note(`kafka.passthrough.1to4.alone: ${perWindow(cpu(), total, ms)}`);
  } finally {
    await running.release();
  }
}
