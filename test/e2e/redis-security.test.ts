/**
 * Redis as production runs it: TLS only, the default user off, seqae logged in as the user of
 * deploy/redis/seqae-acl.conf, allowed only the commands seqae and BullMQ need. A redis-server of
 * the test's own (never the shared one), with certificates from a throwaway CA. A worker and a
 * producer do their whole work through it (windows through Kafka and BullMQ, training jobs, the
 * model registry); Redis refuses nothing but CONFIG. A wrong password, or none, stops `seqae worker`
 * and `seqae produce` at start with one line naming Redis and exit code 2, never a retry loop.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type SeqaeConfig } from '../../src/config/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { makeCertificates } from '../support/tls.js';
import { collectOutputs } from '../support/kafka.js';
import {
  freePort,
  spawnChild,
  spawnProducer,
  spawnWorker,
  stopChild,
  type Child,
} from '../support/processes.js';
import { createTopics, testEnv } from '../support/services.js';
import { Fatal, waitFor } from '../support/wait.js';

const NAME = 'redis-security';
const STREAMS = 2;
const LENGTH = 200;
/** Windows of the default 9 readings, stride 1, per stream. */
const WINDOWS = STREAMS * (LENGTH - 9 + 1);

const dir = mkdtempSync(join(tmpdir(), 'seqae-redis-tls-'));
const password = randomBytes(12).toString('hex');
/** A wrong password, to look for in what the processes print. */
const WRONG = 'wrong-Pa55word-4711';
const children: Child[] = [];
let port: number;
let ca: string;

/** The test's variables with Redis at its own server as `user:pass`, seqae's default key prefixes. */
function env(credentials: string, overrides: Record<string, string> = {}) {
  return testEnv(NAME, {
    REDIS_URL: `rediss://${credentials}@127.0.0.1:${port}`,
    REDIS_TLS_CA: ca,
    // The ACL's key patterns are those of the defaults: the server is this test's alone.
    SEQAE_KEY_PREFIX: 'seqae',
    SEQAE_BULLMQ_KEY_PREFIX: 'bull',
    SEQAE_HTTP_PORT: '0',
    ...overrides,
  });
}

function produce(environment: Record<string, string>, name: string, ...args: string[]): Child {
  const child = spawnProducer(args, environment, name);
  children.push(child);
  return child;
}

const jsonLine = (line: string) => line.includes('"level"');
const levelOf = (line: string) => Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);

beforeAll(async () => {
  const certs = makeCertificates(dir);
  ca = certs.ca;
  const acl = readFileSync('deploy/redis/seqae-acl.conf', 'utf8');
  expect(acl).toContain('>CHANGE-ME');
  writeFileSync(join(dir, 'acl.conf'), acl.replace('>CHANGE-ME', `>${password}`));
  port = await freePort();
  const server = spawnChild(
    'redis-tls',
    'redis-server',
    [
      join(dir, 'acl.conf'),
      ...['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1'],
      ...['--tls-cert-file', certs.cert, '--tls-key-file', certs.key],
      ...['--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no'],
      ...['--save', '', '--appendonly', 'no', '--dir', dir],
    ],
    process.env,
  );
  children.push(server);
  const probe = new Redis(port, '127.0.0.1', {
    username: 'seqae',
    password,
    tls: { ca: readFileSync(ca, 'utf8') },
    lazyConnect: true,
    retryStrategy: () => 200,
  });
  probe.on('error', () => {}); // refused until the server listens
  await waitFor('the TLS redis-server', async () => {
    if (server.proc.exitCode !== null) throw new Fatal(server.log.join('\n'));
    if (probe.status === 'wait') await probe.connect();
    return (await probe.ping()) === 'PONG';
  });
  probe.disconnect();
});

afterAll(async () => {
  // Workers and producers first, the server last: they need it to stop cleanly.
  for (const child of children.splice(0).reverse()) await stopChild(child, 10_000);
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis over TLS with an ACL user', () => {
  it('carries a worker and a producer through windows, training and the registry', async () => {
    const environment = env(`seqae:${password}`, { SEQAE_EPOCHS: '2' });
    const config: SeqaeConfig = loadConfig(process.env, environment);
    await createTopics(config, Object.values(config.topics), 1);
    const outputs = await collectOutputs(config, `${NAME}-${process.pid}`);
    const worker = spawnWorker(environment, 'worker');
    children.push(worker);
    try {
      await waitFor('the worker', () => {
        if (worker.proc.exitCode !== null) throw new Fatal(worker.log.join('\n'));
        return worker.log.some((l) => l.includes('worker ready'));
      });
      const producer = produce(
        environment,
        'producer',
        ...['--source', `synthetic:sine?streams=${STREAMS}&length=${LENGTH}`],
        ...['--to', 'kafka,bullmq', '--train', '100', '--no-http', '--no-progress'],
      );
      expect(await producer.exited, producer.log.join('\n')).toBe(0);
      const line = producer.log.find((l) => l.includes('"sent"'))!;
      const summary = JSON.parse(line.slice(line.indexOf(' ') + 1));
      expect(summary.sent).toEqual({ kafka: WINDOWS, bullmq: WINDOWS });
      expect(summary.trainingRequests).toBe(STREAMS);

      // Every window scored (through Kafka and through the infer queue), after training.
      await waitFor('an output for every window', () => {
        if (worker.proc.exitCode !== null) throw new Fatal(worker.log.join('\n'));
        return outputs.ids('reconstructions').size >= WINDOWS;
      });
      expect(outputs.ids('reconstructions').size).toBe(WINDOWS);
      expect(outputs.ids('dlq').size).toBe(0);

      const redis = createRedis(config, { name: 'seqae-test' });
      const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 5 });
      try {
        for (let i = 0; i < STREAMS; i++)
          expect(await registry.versions(`syn-sine-${i}`)).toEqual([1]);
        // What the ACL refused: CONFIG (the eviction check, which then skips) and nothing else.
        const stats = (await redis.info('commandstats'))
          .split('\n')
          .filter((l) => /rejected_calls=[1-9]/.test(l))
          .map((l) => l.split(':')[0]);
        expect(stats).toEqual(['cmdstat_config|get']);
        // …and what it keeps from seqae's user.
        for (const denied of [
          () => redis.flushall(),
          () => redis.config('SET', 'appendonly', 'no'),
          () => redis.keys('*'),
          () => redis.set('elsewhere', '1'),
        ])
          await expect(denied()).rejects.toThrow(/NOPERM/);
      } finally {
        await registry.close();
        redis.disconnect();
      }
      // The skipped eviction check said nothing above debug; nothing else complained.
      const complaints = [...worker.log, ...producer.log].filter(
        (l) => levelOf(l) >= 40 || /maxmemory|NOPERM/.test(l),
      );
      expect(complaints).toEqual([]);
    } finally {
      await outputs.stop();
      await stopChild(worker, 30_000);
    }
  });

  it.each([
    ['a wrong password', `seqae:${WRONG}`, /refused user "seqae"/],
    ['no password', 'seqae', /refused a connection without a password/],
  ])(
    'stops a worker and a producer given %s at start, with one line naming Redis',
    async (_, credentials, refusal) => {
      const environment = env(credentials);
      const worker = spawnWorker(environment, 'worker-refused');
      const producer = produce(
        environment,
        'producer-refused',
        ...['--source', 'synthetic:sine?streams=1&length=100', '--to', 'bullmq', '--train', '20'],
      );
      children.push(worker);
      for (const child of [worker, producer]) {
        expect(await child.exited, child.log.join('\n')).toBe(2);
        const lines = child.log.filter((l) => !jsonLine(l));
        expect(lines, child.log.join('\n')).toHaveLength(1);
        expect(lines[0]).toMatch(/Redis at rediss:\/\/127\.0\.0\.1:\d+ /);
        expect(lines[0]).toMatch(refusal);
        expect(child.log.filter((l) => levelOf(l) >= 40)).toEqual([]);
        for (const secret of [WRONG, password]) expect(child.log.join('\n')).not.toContain(secret);
      }
      expect(worker.log.some((l) => l.includes('worker ready'))).toBe(false);
    },
  );
});
