/**
 * What a seqae infer job costs BullMQ beyond a no-op job, one thing at a time: no-op jobs through one
 * Worker (as `bullmq.noop`), then with the infer job's options (its id, attempts and backoff, kept
 * an hour when completed), then returning the anomaly output or every output's payload as seqae's
 * infer worker does. Kept to reproduce the breakdown in docs/performance.md; not used by seqae.
 *
 * Usage: flock /tmp/seqae-bench.lock npx tsx bench/explore-bullmq.ts [jobs] [concurrency] [rounds]
 */
import { loadavg } from 'node:os';
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { inferJob } from '../src/contracts/jobs.js';
import { outputPayloads } from '../src/contracts/outputs.js';
import type { Window } from '../src/contracts/window.js';
import { createRedis } from '../src/transport/redis.js';
import { sineWindows } from '../test/support/windows.js';
import { WINDOW } from './bench-model.js';
import { RunScope } from './run-scope.js';
import { waitUntil } from './wait.js';

const [jobs = 10_000, concurrency = 256, rounds = 3] = process.argv.slice(2).map(Number);
const windows = sineWindows('explore', jobs, WINDOW);
const outputs = (i: number) =>
  outputPayloads({
    window: windows[i]!,
    modelId: 'explore',
    modelVersion: 1,
    reconstruction: windows[i]!.values.map((r) => r.map((x) => x + 0.0123456789)),
    prediction: windows[i]!.values.map((r) => r.map((x) => x - 0.0123456789)),
    embedding: Array.from({ length: 100 }, (_, k) => Math.sin(k + i) / 3),
    score: 0.123456789,
    alert: false,
    reconstructionError: 0.0123456789,
    predictionError: 0.0234567891,
    scorer: 'likelihood',
    reason: null,
  });

interface Variant {
  name: string;
  opts: (i: number) => JobsOptions;
  result: (i: number) => unknown;
}
const noopOpts = () => ({ removeOnComplete: true });
const variants: Variant[] = [
  { name: 'no-op', opts: noopOpts, result: () => undefined },
  { name: 'infer job options', opts: (i) => inferJob(windows[i]!).opts, result: () => undefined },
  {
    name: '+ anomaly result',
    opts: (i) => inferJob(windows[i]!).opts,
    result: (i) => outputs(i).anomalies,
  },
  { name: '+ full result', opts: (i) => inferJob(windows[i]!).opts, result: outputs },
  { name: 'no-op + full result', opts: noopOpts, result: outputs },
];

const scope = new RunScope();
const rates = new Map<string, number[]>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      const config = scope.config(scope.env());
      const connection = createRedis(config, { bullmq: true, name: 'seqae-bench' });
      const options = { connection, prefix: config.queues.prefix };
      const queue = new Queue(config.queues.infer, options);
      try {
        for (let i = 0; i < jobs; i += 1000)
          await queue.addBulk(
            windows
              .slice(i, i + 1000)
              .map((w, k) => ({ name: 'window', data: w, opts: v.opts(i + k) })),
          );
        let done = 0;
        const t0 = performance.now();
        const worker = new Worker(
          config.queues.infer,
          async (job) => v.result((job.data as Window).seq - (WINDOW - 1)),
          { ...options, concurrency },
        );
        worker.on('completed', () => void done++);
        try {
          await waitUntil('the jobs', () => done >= jobs, 300_000);
        } finally {
          await worker.close(true);
        }
        const rate = jobs / ((performance.now() - t0) / 1000);
        rates.set(v.name, [...(rates.get(v.name) ?? []), rate]);
      } finally {
        await queue.obliterate({ force: true }).catch(() => undefined);
        await queue.close();
        connection.disconnect();
      }
    }
  }
} finally {
  await scope.close();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(rates.get('no-op')!);
console.log(`# ${jobs} jobs, concurrency ${concurrency}, ${rounds} rounds, load ${loadavg()[0]}`);
for (const [name, xs] of rates)
  console.log(
    `${name.padEnd(22)} ${Math.round(median(xs)).toString().padStart(6)} jobs/s  ×${(median(xs) / base).toFixed(2)}  (${xs.map(Math.round).join(', ')})`,
  );
process.exit(0);
