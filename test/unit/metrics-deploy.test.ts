/**
 * The deploy files against the real tools and the real /metrics output: promtool (Debian package
 * `prometheus`, installed by .ci/run) checks the Prometheus config, the alert rules and their unit
 * tests, and the exposition text; the Grafana dashboard and the alerts only query metrics that exist.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startHttpServer, type HttpServer } from '../../src/http/index.js';
import { createProducerMetrics } from '../../src/producer/metrics.js';
import {
  COLLECTOR_ERRORS,
  counterIn,
  createMetricsRegistry,
  createWorkerMetrics,
  metricCatalog,
  registerKafkaLagCollector,
  registerQueueDepthCollector,
} from '../../src/metrics/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const deploy = (path: string) => `${root}deploy/${path}`;

function promtool(args: string[], input?: string) {
  const result = spawnSync('promtool', args, { input, encoding: 'utf8', cwd: root });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      "promtool not found: install Debian's prometheus package (apt-get install -y --no-install-recommends prometheus); .ci/run does this",
    );
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A worker's /metrics with every seqae metric holding at least one sample, served over HTTP. */
async function populatedMetrics(): Promise<{ text: string; server: HttpServer }> {
  const registry = createMetricsRegistry({ role: 'worker', backend: 'wasm' });
  const w = createWorkerMetrics(registry);
  const p = createProducerMetrics(registry);
  p.readings.inc(100);
  p.windows.inc({ sink: 'kafka' }, 10);
  p.rejected.inc({ reason: 'bad_number' });
  p.sendDuration.observe({ sink: 'kafka' }, 0.01);
  p.inFlight.set(2);
  p.backpressureSeconds.inc({ sink: 'bullmq' }, 0.5);
  w.windowsConsumed.inc({ source: 'kafka' }, 10);
  w.outputsPublished.inc({ topic: 'anomalies' }, 10);
  w.dlqMessages.inc({ reason: 'invalid' });
  w.jobs.inc({ queue: 'seqae-train', type: 'train', status: 'completed' });
  w.jobDuration.observe({ queue: 'seqae-train', type: 'train' }, 12);
  w.trainingDuration.observe(12);
  w.trainingEpochs.inc(5);
  w.setTrainingLoss('stream-1', 'total', 0.01);
  w.setModelVersion('stream-1', 2);
  w.inferenceBatchSize.observe(16);
  w.inferenceDuration.observe(0.02);
  w.observeEndToEnd(Date.now() - 300);
  w.reconstructionError.observe(0.002);
  w.observeAnomalyScore('stream-1', 0.97, true);
  w.feedback.inc({ kind: 'false-alarm' });
  w.alertsSuppressed.inc({ cause: 'feedback' });
  w.modelsLoaded.set(1);
  w.windowsBuffered.set(3);
  counterIn(registry, COLLECTOR_ERRORS).inc({ collector: 'queue' }, 0);
  registerQueueDepthCollector(registry, [
    { name: 'seqae-train', getJobCounts: async () => ({ waiting: 1, active: 1 }) },
  ]);
  registerKafkaLagCollector(
    registry,
    {
      fetchOffsets: async () => [
        { topic: 'seqae.windows', partitions: [{ partition: 0, offset: '5', metadata: null }] },
      ],
      fetchTopicOffsets: async () => [{ partition: 0, offset: '9', high: '9', low: '0' }],
    },
    [{ groupId: 'seqae-stream', topics: ['seqae.windows'] }],
  );
  const server = await startHttpServer({ metricsRegistry: registry, host: '127.0.0.1', port: 0 });
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return { text, server };
}

/** Base names of the families with at least one sample (histogram suffixes folded). */
function exposedNames(text: string): Set<string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = line.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/)![0];
    const base = name.replace(/_(bucket|sum|count)$/, '');
    names.add(types.get(base) === 'histogram' ? base : name);
  }
  return names;
}

/** Names of seqae's and Node's metrics a PromQL expression reads, histogram suffixes folded. */
function queriedNames(expr: string, histograms: Set<string>): string[] {
  return [...expr.matchAll(/\b(?:seqae|process|nodejs)_[a-zA-Z0-9_]+/g)].map(([name]) => {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return histograms.has(base) ? base : name;
  });
}

let text = '';
let server: HttpServer | undefined;
let names = new Set<string>();
const histograms = new Set([
  ...metricCatalog.filter((d) => d.type === 'histogram').map((d) => d.name),
  'seqae_producer_send_duration_seconds',
]);

beforeAll(async () => {
  ({ text, server } = await populatedMetrics());
  names = exposedNames(text);
});
afterAll(() => server?.close());

describe('promtool', () => {
  it('accepts deploy/prometheus.yml', () => {
    const { status, output } = promtool(['check', 'config', deploy('prometheus.yml')]);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('accepts deploy/alerts.yml', () => {
    const { status, output } = promtool(['check', 'rules', deploy('alerts.yml')]);
    expect(status, output).toBe(0);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes the alert rules’ unit tests (deploy/alerts.test.yml)', () => {
    const { status, output } = promtool(['test', 'rules', deploy('alerts.test.yml')]);
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('finds no problem in the /metrics output of a populated worker', () => {
    // promtool accepts empty input too, so first make sure every seqae metric is in it.
    for (const d of metricCatalog) expect(names, d.name).toContain(d.name);
    const { status, output } = promtool(['check', 'metrics'], text);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('is strict enough to reject a misnamed counter', () => {
    const bad = '# HELP seqae_things x\n# TYPE seqae_things counter\nseqae_things 1\n';
    expect(promtool(['check', 'metrics'], bad).status).not.toBe(0);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(deploy('grafana/dashboards/seqae.json'), 'utf8'));
  type Panel = {
    id: number;
    type: string;
    title: string;
    datasource?: { uid: string };
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: Array<{ expr: string; datasource?: { uid: string } }>;
  };
  const panels: Panel[] = dashboard.panels;
  const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

  it('is a dashboard with unique panel ids and every panel inside the 24-column grid', () => {
    expect(dashboard.uid).toBe('seqae');
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.h, p.title).toBeGreaterThan(0);
    }
    expect(queries.length).toBeGreaterThan(20);
  });

  it('queries the provisioned Prometheus datasource', () => {
    const provisioned = parseYaml(
      readFileSync(deploy('grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    );
    const uid = provisioned.datasources[0].uid;
    expect(provisioned.datasources[0].url).toBe('http://prometheus:9090');
    for (const p of panels.filter((p) => p.type !== 'row'))
      expect(p.datasource?.uid, p.title).toBe(uid);
    for (const q of queries) expect(q.datasource?.uid, q.panel).toBe(uid);
  });

  it('only queries metrics that exist in /metrics, and covers the issue’s panels', () => {
    const used = new Set<string>();
    for (const q of queries) {
      const found = queriedNames(q.expr, histograms);
      // Every query reads a seqae or Node metric, except those on Prometheus' own `up`.
      if (!/^up\{/.test(q.expr)) expect(found.length, `${q.panel}: ${q.expr}`).toBeGreaterThan(0);
      for (const name of found) {
        expect(names, `${q.panel}: ${name}`).toContain(name);
        used.add(name);
      }
    }
    for (const required of [
      'seqae_windows_consumed_total',
      'seqae_outputs_published_total',
      'seqae_kafka_consumer_lag',
      'seqae_end_to_end_latency_seconds',
      'seqae_queue_jobs',
      'seqae_training_loss',
      'seqae_anomaly_score',
      'seqae_stream_anomaly_score',
    ])
      expect(used).toContain(required);
  });

  it('is loaded by the dashboards provider from the folder compose mounts', () => {
    const provider = parseYaml(
      readFileSync(deploy('grafana/provisioning/dashboards/seqae.yml'), 'utf8'),
    );
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    expect(provider.providers[0].type).toBe('file');
  });
});

describe('alert rules', () => {
  it('only read metrics that exist in /metrics', () => {
    const rules = parseYaml(readFileSync(deploy('alerts.yml'), 'utf8'));
    const exprs: string[] = rules.groups.flatMap((g: { rules: Array<{ expr: string }> }) =>
      g.rules.map((r) => r.expr),
    );
    expect(exprs.length).toBeGreaterThan(5);
    for (const expr of exprs)
      for (const name of queriedNames(expr, histograms)) expect(names, expr).toContain(name);
  });
});
