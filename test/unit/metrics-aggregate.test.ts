import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MetricsAggregator,
  createRegistry,
  createWorkerMetrics,
  mergeMetrics,
  type MetricsChild,
} from '../../src/metrics/index.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`./metrics-fixtures/${name}`, import.meta.url));
const childModule = fixture('metrics-child.ts');

/** The value of a sample line `name{labels} value` in exposition text (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

type Channel = { on: Worker['on']; off: Worker['off'] };

function nextMessage<T>(child: MetricsChild, match: (m: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const listener = (m: unknown) => {
      if (!match(m as T)) return;
      (child as Channel).off('message', listener);
      resolve(m as T);
    };
    (child as Channel).on('message', listener);
  });
}

const started: Array<Worker | ChildProcess> = [];
afterEach(async () => {
  for (const c of started.splice(0)) {
    if (c instanceof Worker) await c.terminate();
    else if (c.exitCode === null) c.kill();
  }
});

async function startThread(): Promise<Worker> {
  const worker = new Worker(fixture('tsx-worker.mjs'), { workerData: { module: childModule } });
  started.push(worker);
  await nextMessage<{ ready?: boolean }>(worker, (m) => !!m?.ready);
  return worker;
}

async function startProcess(): Promise<ChildProcess> {
  const child = fork(childModule, { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  started.push(child);
  await nextMessage<{ ready?: boolean }>(child, (m) => !!m?.ready);
  return child;
}

async function command(child: MetricsChild, cmd: object, done: string): Promise<void> {
  const reply = nextMessage<{ done?: string }>(child, (m) => m?.done === done);
  if (child instanceof Worker) child.postMessage(cmd);
  else child.send(cmd);
  await reply;
}

describe('MetricsAggregator', () => {
  it('merges a worker thread’s counters and histograms into the parent’s metrics', async () => {
    const registry = createRegistry({ role: 'worker' });
    createWorkerMetrics(registry).trainingEpochs.inc(2);
    const aggregator = new MetricsAggregator(registry);
    const worker = await startThread();
    aggregator.add(worker);
    await command(worker, { cmd: 'epochs', n: 3 }, 'epochs');

    const text = await aggregator.metrics();
    expect(sample(text, 'seqae_training_epochs_total')).toBe(5);
    expect(sample(text, 'seqae_training_duration_seconds_count')).toBe(1);
    expect(sample(text, 'seqae_training_duration_seconds_sum')).toBe(3);
    expect(sample(text, 'seqae_models_loaded')).toBe(3);
    // Families only the parent has pass through untouched, including those prom-client's cluster
    // aggregation would omit.
    expect(sample(text, 'process_start_time_seconds')).toBeGreaterThan(0);
    expect(text).toMatch(/^seqae_build_info\{version="[^"]+",backend="none",role="worker"\} 1$/m);
    expect(text.match(/^# TYPE seqae_training_epochs_total /gm)).toHaveLength(1);
    expect(aggregator.contentType).toBe(registry.contentType);
  });

  it('sums several threads and keeps counters of a thread that exited, not its gauges', async () => {
    const registry = createRegistry({ role: 'worker' });
    const aggregator = new MetricsAggregator(registry);
    const [a, b] = await Promise.all([startThread(), startThread()]);
    aggregator.add(a);
    aggregator.add(b);
    await command(a, { cmd: 'epochs', n: 4 }, 'epochs');
    await command(b, { cmd: 'epochs', n: 6 }, 'epochs');
    let text = await aggregator.metrics();
    expect(sample(text, 'seqae_training_epochs_total')).toBe(10);
    expect(sample(text, 'seqae_models_loaded')).toBe(10);

    const exited = once(a, 'exit');
    a.postMessage({ cmd: 'exit' });
    await exited;
    expect(aggregator.size).toBe(1);
    text = await aggregator.metrics();
    expect(sample(text, 'seqae_training_epochs_total')).toBe(10);
    expect(sample(text, 'seqae_training_duration_seconds_count')).toBe(2);
    expect(sample(text, 'seqae_models_loaded')).toBe(6);

    await command(b, { cmd: 'epochs', n: 1 }, 'epochs');
    text = await aggregator.metrics();
    expect(sample(text, 'seqae_training_epochs_total')).toBe(11);
  });

  it('reports a blocked thread’s last snapshot and counts the timeout', async () => {
    const registry = createRegistry({ role: 'worker' });
    const aggregator = new MetricsAggregator(registry, { timeoutMs: 200 });
    const worker = await startThread();
    aggregator.add(worker);
    await command(worker, { cmd: 'epochs', n: 2 }, 'epochs');
    const finished = nextMessage<{ done?: string }>(worker, (m) => m?.done === 'block');
    await command(worker, { cmd: 'block', ms: 2500 }, 'blocking');

    const during = await aggregator.metrics();
    expect(sample(during, 'seqae_training_epochs_total')).toBe(2);
    expect(sample(during, 'seqae_collector_errors_total{collector="pool"}')).toBe(1);

    await finished;
    const after = await aggregator.metrics();
    expect(sample(after, 'seqae_training_epochs_total')).toBeGreaterThan(2);
  });

  it('merges a forked child process over IPC', async () => {
    const registry = createRegistry({ role: 'worker' });
    const aggregator = new MetricsAggregator(registry);
    const child = await startProcess();
    aggregator.add(child);
    await command(child, { cmd: 'epochs', n: 7 }, 'epochs');
    expect(sample(await aggregator.metrics(), 'seqae_training_epochs_total')).toBe(7);

    const exited = once(child, 'exit');
    child.send({ cmd: 'exit' });
    await exited;
    expect(aggregator.size).toBe(0);
    expect(sample(await aggregator.metrics(), 'seqae_training_epochs_total')).toBe(7);
  });
});

describe('mergeMetrics', () => {
  it('adds counters, applies gauge aggregators and passes single-source families through', async () => {
    const a = createRegistry({ role: 'pool', defaultMetrics: false, buildInfo: false });
    const b = createRegistry({ role: 'pool', defaultMetrics: false, buildInfo: false });
    const ma = createWorkerMetrics(a);
    const mb = createWorkerMetrics(b);
    ma.dlqMessages.inc({ reason: 'invalid' }, 2);
    mb.dlqMessages.inc({ reason: 'invalid' }, 3);
    mb.dlqMessages.inc({ reason: 'shape' });
    ma.setModelVersion('m1', 2);
    mb.setModelVersion('m1', 5);
    ma.setTrainingLoss('m1', 'total', 0.5);
    const merged = mergeMetrics([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]);
    const values = (name: string) => merged.find((m) => m.name === name)?.values ?? [];
    expect(values('seqae_dlq_messages_total')).toEqual(
      expect.arrayContaining([
        { labels: { reason: 'invalid' }, value: 5 },
        { labels: { reason: 'shape' }, value: 1 },
      ]),
    );
    expect(values('seqae_model_version')).toEqual([{ labels: { model: 'm1' }, value: 5 }]);
    expect(values('seqae_training_loss')).toEqual([
      { labels: { model: 'm1', output: 'total' }, value: 0.5 },
    ]);
  });
});
