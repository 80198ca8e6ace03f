/**
 * What seqae is compared with: the same work done by hand with no seqae in between. A bare kafkajs
 * pass-through (consume one topic, produce each batch to another, window-sized payloads, no work), a
 * bare BullMQ worker of no-op jobs, and the model's own scoring loop on ONNX Runtime at the workers'
 * micro-batch size.
 */
import { availableParallelism } from 'node:os';
import { Queue, Worker } from 'bullmq';
import { windowMessage } from '../src/contracts/window.js';
import { OnnxEngine } from '../src/model/index.js';
import { createKafka } from '../src/transport/kafka.js';
import { createRedis } from '../src/transport/redis.js';
import { ensureTopics } from '../src/transport/topics.js';
import { sineWindows } from '../test/support/windows.js';
import { WINDOW, type BenchModel } from './bench-model.js';
import { cpuMeter, perWindow } from './cpu.js';
import type { Report } from './report.js';
import type { RunScope } from './run-scope.js';
import { waitUntil } from './wait.js';

/** Messages/s through a consumer that produces every batch it gets to another topic. */
export async function kafkaPassThrough(scope: RunScope, report: Report, count: number) {
  const env = scope.env();
  const config = scope.config(env);
  const from = `${env.SEQAE_TOPIC_PREFIX}in`;
  const to = `${env.SEQAE_TOPIC_PREFIX}out`;
  const kafka = createKafka(config);
  const admin = kafka.admin();
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `${env.SEQAE_TOPIC_PREFIX}passthrough` });
  const clients = scope.track(() =>
    Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]),
  );
  await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
  try {
    await ensureTopics(admin, [from, to], config.kafka.topicPartitions);
    const messages = sineWindows('pass', 1000, WINDOW).map(windowMessage);
    for (let sent = 0; sent < count; sent += messages.length)
      await producer.send({ topic: from, messages: messages.slice(0, count - sent) });
    let forwarded = 0;
    await consumer.subscribe({ topic: from, fromBeginning: true });
    const t0 = performance.now();
    const cpu = cpuMeter([]);
    await consumer.run({
      eachBatch: async ({ batch }) => {
        await producer.send({
          topic: to,
          messages: batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
        });
        forwarded += batch.messages.length;
      },
    });
    await waitUntil('the pass-through', () => forwarded >= count, 300_000);
    const ms = performance.now() - t0;
    report.figure('kafka.passthrough', count / (ms / 1000), 'messages/s');
    report.note(`kafka.passthrough: ${perWindow(cpu(), count, ms).replace('window', 'message')}`);
  } finally {
    await clients.release();
  }
}

/** No-op jobs/s through a bare BullMQ worker: the best of a few concurrencies. */
export async function bullmqNoop(
  scope: RunScope,
  report: Report,
  count: number,
  concurrencies = [16, 64, 256],
) {
  let best = { jobsPerSec: 0, concurrency: 0 };
  for (const concurrency of concurrencies) {
    const config = scope.config(scope.env());
    const connection = createRedis(config, { bullmq: true, name: 'seqae-bench' });
    const options = { connection, prefix: config.queues.prefix };
    const queue = new Queue(config.queues.infer, options);
    const window = sineWindows('noop', 1, WINDOW)[0]!;
    try {
      for (let added = 0; added < count; added += 1000) {
        const n = Math.min(1000, count - added);
        await queue.addBulk(
          Array.from({ length: n }, () => ({
            name: 'noop',
            data: window,
            opts: { removeOnComplete: true },
          })),
        );
      }
      let done = 0;
      const t0 = performance.now();
      const worker = new Worker(config.queues.infer, async () => undefined, {
        ...options,
        concurrency,
      });
      worker.on('completed', () => void done++);
      const running = scope.track(() => worker.close(true));
      try {
        await waitUntil('the no-op jobs', () => done >= count, 300_000);
      } finally {
        await running.release();
      }
      const jobsPerSec = count / ((performance.now() - t0) / 1000);
      report.note(`bare BullMQ, concurrency ${concurrency}: ${Math.round(jobsPerSec)} jobs/s`);
      if (jobsPerSec > best.jobsPerSec) best = { jobsPerSec, concurrency };
    } finally {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      connection.disconnect();
    }
  }
  report.note(`bare BullMQ: best at concurrency ${best.concurrency}`);
  report.figure('bullmq.noop', best.jobsPerSec, 'jobs/s');
}

/**
 * Windows/s of the model called in a loop on ONNX Runtime, `batch` windows a call (the workers'
 * SEQAE_BATCH_MAX), with `threads` intra-op threads (0: one per core, as workers score by default).
 */
export async function modelOnly(
  report: Report,
  m: BenchModel,
  { batch, threads, seconds }: { batch: number; threads: number; seconds: number },
) {
  const engine = await OnnxEngine.create(m.model, {
    threads: threads || availableParallelism(),
  });
  try {
    const windows = new Float32Array(batch * WINDOW).map((_, i) => Math.sin(i / 4));
    await engine.infer(windows, { batchSize: batch }); // warm-up
    let scored = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await engine.infer(windows, { batchSize: batch });
      scored += batch;
    }
    const name = threads === 1 ? 'model.onnx.1thread' : 'model.onnx';
    return report.figure(name, scored / ((performance.now() - t0) / 1000), 'windows/s');
  } finally {
    engine.dispose();
  }
}
