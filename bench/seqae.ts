/**
 * seqae's own figures, each through worker processes as users run them: end-to-end windows/s
 * (producer → Kafka → stream worker → four output topics) and latency at 50% and 90% of it; the
 * same through BullMQ infer jobs; one stream worker process against two; many streams with a model
 * each.
 */
import { Queue } from 'bullmq';
import { createRedis } from '../src/transport/redis.js';
import { publishModels, type BenchModel } from './bench-model.js';
import { cpuMeter, perWindow } from './cpu.js';
import { FleetUnderTest, WARMUP } from './fleet-under-test.js';
import { percentile, type Report } from './report.js';
import type { RunScope } from './run-scope.js';
import { waitUntil } from './wait.js';

export interface Sizes {
  /** Windows of each throughput measurement. */
  windows: number;
  /** Windows through BullMQ infer jobs (one job each). */
  jobs: number;
  /** Seconds of each paced latency run. */
  latencySeconds: number;
}

const SHARED = 'bench-model';

const perSec = (windows: number, ms: number) => windows / (ms / 1000);

/** Stream workers with one shared model: the maximum rate, then latency at 50% and 90% of it. */
export async function endToEnd(scope: RunScope, report: Report, m: BenchModel, sizes: Sizes) {
  const fleet = await FleetUnderTest.start(
    scope,
    { SEQAE_ROLES: 'stream', SEQAE_MODEL_GROUP: SHARED },
    { before: (c) => publishModels(c, m, [SHARED]) },
  );
  try {
    await fleet.produce(WARMUP);
    const run = await fleet.produce({ prefix: 'max-', streams: 100, windows: sizes.windows });
    const max = report.figure('seqae.kafka', perSec(run.windows, run.ms), 'windows/s');
    report.note(
      `seqae.kafka: ${perWindow(run.cpu, run.windows, run.ms)}; ${run.modelBatch.toFixed(0)} windows a model call`,
    );
    for (const share of [50, 90]) {
      const rate = (max * share) / 100;
      const paced = await fleet.produce({
        prefix: `p${share}-`,
        streams: 100,
        windows: Math.ceil(rate * sizes.latencySeconds),
        rate,
      });
      report.note(
        `latency at ${share}%: ${Math.round(rate)} windows/s asked, ${Math.round(perSec(paced.windows, paced.ms))} done`,
      );
      const ms = fleet.latencies(paced);
      for (const p of [50, 95, 99])
        report.figure(`seqae.latency.at${share}.p${p}`, percentile(ms, p), 'ms');
    }
  } finally {
    await fleet.stop();
  }
}

/**
 * The same windows as BullMQ infer jobs, outputs published as well: one job per window
 * (`seqae.bullmq`), then bulk jobs of `bulk` windows each (`seqae.bullmq.bulk`). Counted as
 * `bullmq.noop` counts: by jobs completed (a job completes once its outputs are acknowledged by
 * Kafka), with no collector reading the outputs back while it is timed; the anomalies topic's end
 * offsets then show that every window has its output.
 */
export async function inferJobs(
  scope: RunScope,
  report: Report,
  m: BenchModel,
  sizes: Sizes,
  { concurrency, bulk }: { concurrency: number; bulk: number },
) {
  const fleet = await FleetUnderTest.start(
    scope,
    {
      SEQAE_ROLES: 'infer',
      SEQAE_MODEL_GROUP: SHARED,
      SEQAE_CONCURRENCY: String(concurrency),
    },
    { before: (c) => publishModels(c, m, [SHARED]), collect: false },
  );
  const connection = createRedis(fleet.config, { bullmq: true, name: 'seqae-bench' });
  const queue = new Queue(fleet.config.queues.infer, {
    connection,
    prefix: fleet.config.queues.prefix,
  });
  const ended = async () => {
    const c = await queue.getJobCounts('completed', 'failed');
    if (c.failed) throw new Error(`${c.failed} infer job(s) failed`);
    return c.completed ?? 0;
  };
  const drained = async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(c).every((n) => n === 0);
  };
  try {
    await fleet.produce({ ...WARMUP, windows: 100, sink: 'bullmq', until: () => true });
    await waitUntil('the warm-up jobs', drained, 300_000);
    let outputs = await fleet.outputsOnTopic();
    for (const [name, inferBulk] of [
      ['seqae.bullmq', 1],
      ['seqae.bullmq.bulk', bulk],
    ] as const) {
      // As the bare BullMQ ceiling is measured: the jobs queued first (the queue paused), then timed
      // from the resume until every job has completed. The producer's own rate is not this figure.
      await queue.pause();
      const done0 = await ended();
      const queued = await fleet.produce({
        prefix: `jobs${inferBulk}-`,
        streams: 100,
        windows: sizes.jobs,
        sink: 'bullmq',
        inferBulk,
        until: () => true,
      });
      const c = await queue.getJobCounts('waiting');
      const jobs = c.waiting ?? 0;
      const calls0 = await fleet.modelCalls();
      const cpu = cpuMeter(fleet.workers.map((w) => ({ name: w.name, pid: w.proc.pid })));
      const t0 = Date.now();
      await queue.resume();
      await waitUntil('every job completed', async () => (await ended()) >= done0 + jobs, 300_000);
      const ms = Date.now() - t0;
      const used = cpu();
      const calls = await fleet.modelCalls();
      const modelBatch = (calls.sum - calls0.sum) / Math.max(1, calls.count - calls0.count);
      const now = await fleet.outputsOnTopic();
      if (now - outputs < queued.windows)
        throw new Error(`${name}: ${now - outputs} anomaly outputs for ${queued.windows} windows`);
      outputs = now;
      report.note(
        `BullMQ infer jobs of ${inferBulk} window(s) at SEQAE_CONCURRENCY=${concurrency}, ${queued.windows} windows in ${jobs} jobs; ${perWindow(used, queued.windows, ms)}; ${modelBatch.toFixed(0)} windows a model call`,
      );
      report.figure(name, perSec(queued.windows, ms), 'windows/s');
    }
  } finally {
    await queue.close();
    connection.disconnect();
    await fleet.stop();
  }
}

/**
 * One fleet of `workers` stream workers with `env`, one shared model: `name` (windows/s) and
 * `name.worker_cpu` (all workers' CPU over all windows: the work per window, whatever the rate).
 */
async function streamFleet(
  scope: RunScope,
  report: Report,
  m: BenchModel,
  sizes: Sizes,
  { name, env, workers }: { name: string; env: Record<string, string>; workers: number },
) {
  const fleet = await FleetUnderTest.start(
    scope,
    { SEQAE_ROLES: 'stream', SEQAE_MODEL_GROUP: SHARED, ...env },
    { workers, before: (c) => publishModels(c, m, [SHARED]) },
  );
  try {
    await fleet.produce(WARMUP);
    const run = await fleet.produce({ prefix: 'scale-', streams: 100, windows: sizes.windows });
    report.figure(name, perSec(run.windows, run.ms), 'windows/s');
    const workerCpu = Object.entries(run.cpu)
      .filter(([process]) => process.startsWith('worker-'))
      .reduce((sum, [, x]) => sum + x, 0);
    report.figure(`${name}.worker_cpu`, (workerCpu / run.windows) * 1e6, 'µs/window');
    report.note(
      `${name}: ${perWindow(run.cpu, run.windows, run.ms)}; ${run.modelBatch.toFixed(0)} windows a model call`,
    );
  } finally {
    await fleet.stop();
  }
}

/** One stream worker process, then two, each scoring with one ONNX Runtime thread. */
export async function workersOneVsTwo(
  scope: RunScope,
  report: Report,
  m: BenchModel,
  sizes: Sizes,
) {
  for (const workers of [1, 2])
    await streamFleet(scope, report, m, sizes, {
      name: `seqae.kafka.workers${workers}`,
      env: { SEQAE_ONNX_THREADS: '1' },
      workers,
    });
}

/**
 * One stream worker writing its numeric outputs as JSON (contract v1, SEQAE_OUTPUT_ENCODING=json,
 * what every worker wrote before f32b64), then as f32b64: the encoding's effect within one run.
 */
export async function encodings(scope: RunScope, report: Report, m: BenchModel, sizes: Sizes) {
  for (const encoding of ['json', 'f32b64'])
    await streamFleet(scope, report, m, sizes, {
      name: `seqae.kafka.${encoding}`,
      env: { SEQAE_OUTPUT_ENCODING: encoding },
      workers: 1,
    });
}

/** 1, 10 and 200 streams, each scored by a model of its own (published directly to the registry). */
export async function manyStreams(
  scope: RunScope,
  report: Report,
  m: BenchModel,
  sizes: Sizes,
  counts: readonly number[],
) {
  const ids = counts.flatMap((n) => Array.from({ length: n }, (_, i) => `n${n}-${i}`));
  const fleet = await FleetUnderTest.start(
    scope,
    // Every stream's model stays loaded, as a fleet this size is configured.
    { SEQAE_ROLES: 'stream', SEQAE_MODEL_CACHE: String(Math.max(64, ...counts)) },
    { before: (c) => publishModels(c, m, ids) },
  );
  try {
    for (const n of counts) {
      // Its models loaded first (the same streams, their first windows again).
      await fleet.produce({ prefix: `n${n}-`, streams: n, windows: n * 4 });
      const run = await fleet.produce({ prefix: `n${n}-`, streams: n, windows: sizes.windows });
      report.figure(`seqae.kafka.streams${n}`, perSec(run.windows, run.ms), 'windows/s');
    }
  } finally {
    await fleet.stop();
  }
}
