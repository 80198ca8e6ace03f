import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  QUEUE_STATES,
  consumerLag,
  createMetricsRegistry,
  createWorkerMetrics,
  metricCatalog,
  packageVersion,
  registerKafkaLagCollector,
  registerQueueDepthCollector,
  setActiveBackend,
  type JobCountsSource,
} from '../../src/metrics/index.js';

const lines = (text: string, prefix: string) =>
  text.split('\n').filter((l) => l.startsWith(prefix));

describe('createMetricsRegistry', () => {
  it('makes a private registry with default metrics and the build info', async () => {
    const registry = createMetricsRegistry({ role: 'worker', backend: 'wasm' });
    expect(registry).not.toBe(globalRegistry);
    const text = await registry.metrics();
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(lines(text, 'seqae_build_info')).toEqual([
      `seqae_build_info{version="${packageVersion()}",backend="wasm",role="worker"} 1`,
    ]);
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(await globalRegistry.getMetricsAsJSON()).toEqual([]);
  });

  it('relabels the active backend, keeping one series', async () => {
    const registry = createMetricsRegistry({ role: 'producer' });
    setActiveBackend(registry, 'tfjs-node');
    expect(lines(await registry.metrics(), 'seqae_build_info')).toEqual([
      `seqae_build_info{version="${packageVersion()}",backend="tfjs-node",role="producer"} 1`,
    ]);
  });

  it('leaves default metrics and build info out for pool children', async () => {
    const registry = createMetricsRegistry({
      role: 'pool',
      defaultMetrics: false,
      buildInfo: false,
    });
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    expect(() => setActiveBackend(registry, 'cpu')).toThrow(/seqae_build_info/);
  });
});

describe('createWorkerMetrics', () => {
  it('registers every worker metric once, with units in histogram names', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const metrics = createWorkerMetrics(registry);
    expect(createWorkerMetrics(registry)).toBe(metrics);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    for (const d of metricCatalog) {
      if (d.name.startsWith('seqae_queue_') || d.name.startsWith('seqae_kafka_')) continue;
      if (d.name === 'seqae_collector_errors_total') continue;
      expect(names).toContain(d.name);
    }
    for (const d of metricCatalog) {
      if (d.type === 'counter') expect(d.name).toMatch(/_total$/);
      if (d.type === 'histogram') expect(d.buckets?.length).toBeGreaterThan(3);
      expect(d.labelNames).not.toContain('streamId');
      expect(d.labelNames).not.toContain('window');
    }
  });

  it('reads the live tfjs tensors on each scrape', async () => {
    let tensors = 7;
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    createWorkerMetrics(registry, { liveTensors: () => tensors });
    expect(lines(await registry.metrics(), 'seqae_tfjs_tensors ')).toEqual([
      'seqae_tfjs_tensors 7',
    ]);
    tensors = 9;
    expect(lines(await registry.metrics(), 'seqae_tfjs_tensors ')).toEqual([
      'seqae_tfjs_tensors 9',
    ]);
  });

  it('forgets a model’s loss and version label sets', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry);
    m.setTrainingLoss('a', 'total', 0.1);
    m.setTrainingLoss('a', 'reconstruction', 0.05);
    m.setModelVersion('a', 3);
    m.setTrainingLoss('b', 'prediction', 0.2);
    m.forgetModel('a');
    const text = await registry.metrics();
    expect(lines(text, 'seqae_training_loss{')).toEqual([
      'seqae_training_loss{model="b",output="prediction"} 0.2',
    ]);
    expect(lines(text, 'seqae_model_version{')).toEqual([]);
  });

  it('caps the models and streams that carry labels', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry, { modelLabelCap: 2, streamLabelCap: 2 });
    m.setModelVersion('m1', 1);
    m.setModelVersion('m2', 1);
    m.setModelVersion('m1', 2); // m1 is now the most recent
    m.setModelVersion('m3', 1); // evicts m2
    m.observeAnomalyScore('s1', 0.1, false);
    m.observeAnomalyScore('s2', 0.95, true);
    m.observeAnomalyScore('s3', 0.5, true); // evicts s1
    const text = await registry.metrics();
    expect(lines(text, 'seqae_anomaly_alerts_total ')).toEqual(['seqae_anomaly_alerts_total 2']);
    expect(lines(text, 'seqae_model_version{').sort()).toEqual([
      'seqae_model_version{model="m1"} 2',
      'seqae_model_version{model="m3"} 1',
    ]);
    expect(lines(text, 'seqae_stream_anomaly_score{').sort()).toEqual([
      'seqae_stream_anomaly_score{stream="s2"} 0.95',
      'seqae_stream_anomaly_score{stream="s3"} 0.5',
    ]);
    expect(lines(text, 'seqae_anomaly_score_count')).toEqual(['seqae_anomaly_score_count 3']);
    expect(lines(text, 'seqae_anomaly_score_bucket{le="0.9"}')).toEqual([
      'seqae_anomaly_score_bucket{le="0.9"} 2',
    ]);
  });

  it('turns per-stream scores off with a zero cap and measures end-to-end latency in seconds', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const m = createWorkerMetrics(registry, { streamLabelCap: 0 });
    m.observeAnomalyScore('s1', 0.3, false);
    m.observeEndToEnd(10_000, 12_500);
    m.observeEndToEnd(10_000, 9_000); // clock skew: never negative
    const text = await registry.metrics();
    expect(lines(text, 'seqae_stream_anomaly_score{')).toEqual([]);
    expect(lines(text, 'seqae_end_to_end_latency_seconds_sum')).toEqual([
      'seqae_end_to_end_latency_seconds_sum 2.5',
    ]);
  });
});

describe('consumerLag', () => {
  it('is the distance from the committed offset to the end, or the whole log when none', () => {
    expect(
      consumerLag(
        't',
        [
          { partition: 0, offset: '40' },
          { partition: 1, offset: '-1' },
          { partition: 2, offset: '90' },
        ],
        [
          { partition: 2, high: '100', low: '0' },
          { partition: 0, high: '50', low: '0' },
          { partition: 1, high: '30', low: '10' },
          { partition: 3, high: '5', low: '5' },
        ],
      ),
    ).toEqual([
      { topic: 't', partition: 0, lag: 10 },
      { topic: 't', partition: 1, lag: 20 },
      { topic: 't', partition: 2, lag: 10 },
      { topic: 't', partition: 3, lag: 0 },
    ]);
  });
});

// Collectors over in-memory sources (their contract with BullMQ and Kafka is tested against the real
// services in test/integration/observability-collectors.test.ts).
describe('scrape-time collectors', () => {
  it('reports queue depth per state and survives a queue that fails', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    const good: JobCountsSource = {
      name: 'seqae-infer',
      getJobCounts: async (...states) =>
        Object.fromEntries(states.map((s, i) => [s, i + 1])) as Record<string, number>,
    };
    const bad: JobCountsSource = {
      name: 'seqae-train',
      getJobCounts: async () => {
        throw new Error('connection closed');
      },
    };
    registerQueueDepthCollector(registry, [good, bad]);
    await registry.metrics(); // errors of a scrape are counted in it and shown from the next one
    const text = await registry.metrics();
    expect(lines(text, 'seqae_queue_jobs{')).toEqual(
      QUEUE_STATES.map((s, i) => `seqae_queue_jobs{queue="seqae-infer",state="${s}"} ${i + 1}`),
    );
    expect(lines(text, 'seqae_collector_errors_total{')).toEqual([
      'seqae_collector_errors_total{collector="queue"} 1',
    ]);
  });

  it('caches Kafka lag between scrapes and drops it when the admin fails', async () => {
    const registry = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    let calls = 0;
    let fail = false;
    const admin = {
      fetchOffsets: async () => {
        calls++;
        if (fail) throw new Error('broker down');
        return [{ topic: 'w', partitions: [{ partition: 0, offset: '3', metadata: null }] }];
      },
      fetchTopicOffsets: async () => [{ partition: 0, offset: '8', high: '8', low: '0' }],
    };
    const lag = registerKafkaLagCollector(registry, admin, [{ groupId: 'g', topics: ['w'] }], {
      cacheMs: 60_000,
    });
    const expected = 'seqae_kafka_consumer_lag{group="g",topic="w",partition="0"} 5';
    expect(lines(await registry.metrics(), 'seqae_kafka_consumer_lag{')).toEqual([expected]);
    expect(lines(await registry.metrics(), 'seqae_kafka_consumer_lag{')).toEqual([expected]);
    expect(calls).toBe(1);

    fail = true;
    await expect(lag.refresh()).rejects.toThrow('broker down');
    // A forced refresh that fails leaves a still-fresh cached result in place.
    expect(lines(await registry.metrics(), 'seqae_kafka_consumer_lag{')).toEqual([expected]);

    const fresh = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    registerKafkaLagCollector(fresh, admin, [{ groupId: 'g', topics: ['w'] }]);
    await fresh.metrics();
    const failed = await fresh.metrics();
    expect(lines(failed, 'seqae_kafka_consumer_lag{')).toEqual([]);
    expect(lines(failed, 'seqae_collector_errors_total{')).toEqual([
      'seqae_collector_errors_total{collector="kafka_lag"} 1',
    ]);
    lag.close();
    expect(registry.getSingleMetric('seqae_kafka_consumer_lag')).toBeUndefined();
  });
});
