/**
 * The Kubernetes manifests in deploy/k8s/ are read and checked against the code's own defaults: the
 * ports each command serves on, the probe paths the HTTP server answers, a grace period longer than
 * the worker's drain, and KEDA triggers that name the real consumer group, topic and BullMQ lists.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig, readConfig } from '../../src/config/index.js';
import { DEFAULT_HTTP_PORT, declarations, settings } from '../../src/config/settings.js';
import { startHttpServer } from '../../src/http/server.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const docs: Doc[] = readdirSync('deploy/k8s')
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(`deploy/k8s/${f}`, 'utf8')).map((d) => d.toJS() as Doc),
  );
const find = (kind: string, name: string) => {
  const doc = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return doc;
};
const container = (deployment: string) =>
  find('Deployment', deployment).spec.template.spec.containers[0];
const env = (c: Doc) => Object.fromEntries((c.env ?? []).map((e: Doc) => [e.name, e.value]));

describe('deploy/k8s', () => {
  const defaults = loadConfig({});

  it('serves each command on its own default port, named in its probes and Service', () => {
    for (const [deployment, command] of [
      ['seqae-worker', 'worker'],
      ['seqae-producer', 'produce'],
    ] as const) {
      const c = container(deployment);
      const port = DEFAULT_HTTP_PORT[command];
      expect(c.args[0]).toBe(command);
      expect(c.command).toEqual(['node', 'bin/seqae.js']); // npx does not pass SIGTERM on
      expect(c.ports[0].containerPort).toBe(port);
      expect(Number(env(c).SEQAE_HTTP_PORT)).toBe(port);
      expect(
        readConfig({ SEQAE_HTTP_PORT: env(c).SEQAE_HTTP_PORT }, {}, command).config.http.port,
      ).toBe(port);
      expect(env(c).SEQAE_HTTP_HOST).toBe('0.0.0.0');
      const service = find('Service', `${deployment}-metrics`);
      expect(service.spec.ports[0].port).toBe(port);
      expect(
        find('Deployment', deployment).spec.template.metadata.annotations['prometheus.io/port'],
      ).toBe(String(port));
    }
  });

  it('probes paths the HTTP server answers (not 404)', async () => {
    const server = await startHttpServer({ host: '127.0.0.1', port: 0 });
    try {
      for (const deployment of ['seqae-worker', 'seqae-producer']) {
        const c = container(deployment);
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
        for (const probe of [c.readinessProbe, c.livenessProbe])
          expect((await fetch(`${server.url}${probe.httpGet.path}`)).status).toBe(200);
      }
    } finally {
      await server.close();
    }
  });

  it('gives a worker longer to stop than its own drain', () => {
    const worker = find('Deployment', 'seqae-worker').spec.template.spec;
    const drainMs = Number(
      env(worker.containers[0]).SEQAE_SHUTDOWN_TIMEOUT_MS ?? defaults.worker.shutdownTimeoutMs,
    );
    expect(drainMs).toBe(defaults.worker.shutdownTimeoutMs);
    expect(worker.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs + 10_000);
    expect(worker.containers[0].resources.requests.cpu).toBeDefined();
  });

  it('scales workers with KEDA on the stream group lag and the BullMQ waiting lists', () => {
    const scaled = find('ScaledObject', 'seqae-worker');
    expect(scaled.spec.scaleTargetRef.name).toBe('seqae-worker');
    expect(scaled.spec.maxReplicaCount).toBeLessThanOrEqual(defaults.kafka.topicPartitions);
    const kafka = scaled.spec.triggers.find((t: Doc) => t.type === 'kafka').metadata;
    expect(kafka.consumerGroup).toBe(defaults.worker.groupId);
    expect(kafka.topic).toBe(defaults.topics.windows);
    const lists = scaled.spec.triggers
      .filter((t: Doc) => t.type === 'redis')
      .map((t: Doc) => t.metadata.listName);
    const { prefix, infer, train } = defaults.queues;
    expect(lists.sort()).toEqual([`${prefix}:${infer}:wait`, `${prefix}:${train}:wait`].sort());
  });

  it('configures only declared settings', () => {
    const declared = new Set([...declarations(settings)].map(([, s]) => s.env));
    const config = find('ConfigMap', 'seqae-config');
    for (const name of Object.keys(config.data)) expect(declared, name).toContain(name);
    expect(config.data.SEQAE_TOPIC_PARTITIONS).toBe(String(defaults.kafka.topicPartitions));
  });
});
