/**
 * No Docker engine runs here, so the compose stack and the Dockerfile are checked by reading them:
 * the properties that `docker compose up --scale worker=4` and a production image depend on.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  container_name?: string;
  ports?: (string | { published?: unknown })[];
  expose?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const words = (cmd: Service['command']) => (Array.isArray(cmd) ? cmd : (cmd ?? '').split(/\s+/));
/** The host path mounted at `target` (or above it) for `service`, relative to the repository. */
function hostPath(service: Service, target: string): string | undefined {
  for (const volume of service.volumes ?? []) {
    const [source = '', mount = ''] = volume.split(':');
    if (target === mount || target.startsWith(`${mount}/`))
      return posix.normalize(posix.join(source, posix.relative(mount, target)));
  }
  return undefined;
}

describe('docker-compose.yml', () => {
  it('keeps Redis on disk and never evicts (queued jobs and model versions live there)', () => {
    const command = words(services.redis!.command);
    const flag = (name: string) => command[command.indexOf(name) + 1];
    expect(flag('--appendonly')).toBe('yes');
    expect(flag('--maxmemory-policy')).toBe('noeviction');
    expect(command).not.toContain('--save');
    expect(services.redis!.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
  });

  it('has the whole stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['grafana', 'kafka', 'producer', 'prometheus', 'redis', 'worker'].sort(),
    );
  });

  it('runs Kafka from the official Apache image as one KRaft node', () => {
    const kafka = services.kafka!;
    expect(kafka.image).toMatch(/^apache\/kafka:4\./);
    const env = kafka.environment!;
    expect(String(env.KAFKA_PROCESS_ROLES).split(',').sort()).toEqual(['broker', 'controller']);
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${env.KAFKA_NODE_ID}@kafka:9093`);
    expect(String(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR)).toBe('1');
  });

  it('points producers and workers at listeners the broker advertises on the compose network', () => {
    const advertised = String(services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS)
      .split(',')
      .map((l) => l.replace(/^[A-Z_]+:\/\//, ''));
    for (const name of ['producer', 'worker']) {
      const env = services[name]!.environment!;
      for (const broker of String(env.KAFKA_BROKERS).split(','))
        expect(advertised).toContain(broker);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.SEQAE_HTTP_HOST).toBe('0.0.0.0');
    }
  });

  it('gives every service a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test, name).toBeTruthy();
      expect(service.healthcheck?.disable, name).not.toBe(true);
    }
  });

  it('starts producers, workers and Grafana only once what they need is healthy', () => {
    const needs = {
      producer: ['kafka', 'redis'],
      worker: ['kafka', 'redis'],
      grafana: ['prometheus'],
    };
    for (const [name, deps] of Object.entries(needs)) {
      const dependsOn = services[name]!.depends_on;
      expect(Array.isArray(dependsOn), `${name} depends_on must use conditions`).toBe(false);
      for (const dep of deps)
        expect(
          (dependsOn as Record<string, { condition?: string }>)[dep]?.condition,
          `${name} → ${dep}`,
        ).toBe('service_healthy');
    }
  });

  it('lets workers scale: no container name, no fixed host ports, metrics on the network', () => {
    for (const name of ['worker', 'producer']) {
      const service = services[name]!;
      expect(service.container_name, name).toBeUndefined();
      expect(service.ports ?? [], name).toEqual([]);
      expect(service.expose, name).toContain('9464');
    }
    for (const [name, service] of Object.entries(services))
      expect(service.container_name, name).toBeUndefined();
  });

  it('runs the seqae CLI in the worker and producer', () => {
    expect(words(services.worker!.command)).toEqual(['worker', '--roles', 'train,stream,infer']);
    const produce = words(services.producer!.command);
    expect(produce[0]).toBe('produce');
    expect(produce[produce.indexOf('--source') + 1]).toMatch(/^synthetic:/);
    expect(produce[produce.indexOf('--to') + 1]).toBe('kafka');
    expect(services.worker!.build).toBeDefined();
    expect(services.worker!.image).toBe(services.producer!.image);
  });

  it('configures Prometheus from deploy/prometheus.yml and provisions Grafana from deploy/grafana', () => {
    const prometheus = services.prometheus!;
    const configFlag = words(prometheus.command).find((w) => w.startsWith('--config.file='));
    expect(configFlag).toBeDefined();
    expect(hostPath(prometheus, configFlag!.slice('--config.file='.length))).toBe(
      'deploy/prometheus.yml',
    );
    expect(hostPath(services.grafana!, '/etc/grafana/provisioning')).toBe(
      'deploy/grafana/provisioning',
    );
  });

  it('binds host ports to loopback only', () => {
    for (const [name, service] of Object.entries(services))
      for (const port of service.ports ?? []) expect(String(port), name).toMatch(/^127\.0\.0\.1:/);
  });
});

describe('Dockerfile', () => {
  const lines = readFileSync('Dockerfile', 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: string[][] = [];
  for (const line of lines) {
    if (/^FROM\s/i.test(line)) stages.push([]);
    stages.at(-1)?.push(line);
  }
  const final = stages.at(-1)!;

  it('is multi-stage on Node 20 slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM node:20(\.[\d.]+)?-slim\b/i);
  });

  it('builds in the build stage and ships production dependencies only', () => {
    const build = stages.slice(0, -1).flat().join('\n');
    expect(build).toMatch(/npm ci\b/);
    expect(build).toMatch(/npm run build/);
    expect(build).toMatch(/npm prune --omit=dev|npm ci --omit=dev/);
    // The final stage installs nothing itself: it copies the pruned node_modules and dist/.
    expect(final.join('\n')).not.toMatch(/npm (ci|install)/);
    expect(final.join('\n')).toMatch(/COPY --from=\S+ .*node_modules/);
    expect(final.join('\n')).toMatch(/COPY --from=\S+ .*dist/);
  });

  it('runs as a non-root user', () => {
    const user = final.filter((l) => /^USER\s/i.test(l)).at(-1);
    expect(user).toBeDefined();
    expect(user!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('keeps the build context small', () => {
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const path of ['node_modules', '.git', '.cache', '.services', 'dist'])
      expect(ignored).toContain(path);
  });
});
