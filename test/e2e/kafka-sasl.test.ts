/**
 * Kafka as production runs it: a broker of the test's own with a SASL_SSL listener (SCRAM-SHA-256
 * over TLS, its certificate from a throwaway CA made here, its user created by Kafka's own storage
 * tool). `seqae worker` and `seqae produce` connect with the right credentials; with a wrong password
 * the worker stops at once with one line naming Kafka, the user and the
 * authentication failure, and exit 2 (as for Redis); so does a SASL client of a listener without SASL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOwnBroker, type OwnBroker } from '../support/broker.js';
import {
  freePort,
  spawnProducer,
  spawnWorker,
  stopChild,
  type Child,
} from '../support/processes.js';
import { cleanupRedis, testConfig, testEnv } from '../support/services.js';
import { Fatal, waitFor } from '../support/wait.js';
import { makeCertificates } from '../support/tls.js';

const USER = 'seqae-app';
const PASSWORD = 'right-horse-battery-7';

let dir: string;
let broker: OwnBroker;
let saslPort: number;
let ca: string;
const children: Child[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqae-sasl-'));
  const certs = makeCertificates(dir);
  ca = certs.ca;
  saslPort = await freePort();
  broker = await startOwnBroker({
    properties: ({ port, controllerPort }) => ({
      listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SASL_SSL://127.0.0.1:${saslPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${port},SASL_SSL://127.0.0.1:${saslPort}`,
      'listener.security.protocol.map':
        'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-256',
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config':
        'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': certs.keystore,
      'ssl.keystore.password': certs.password,
      'ssl.key.password': certs.password,
    }),
    formatArgs: () => ['--add-scram', `SCRAM-SHA-256=[name=${USER},password=${PASSWORD}]`],
  });
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopChild(c, 5_000)));
});
afterAll(async () => {
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The variables of a client of the SASL_SSL listener with `password`. */
function saslEnv(name: string, password: string): Record<string, string> {
  return testEnv(name, {
    KAFKA_BROKERS: `127.0.0.1:${saslPort}`,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA: ca,
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_SASL_USERNAME: USER,
    KAFKA_SASL_PASSWORD: password,
  });
}

describe('Kafka over SASL_SSL (SCRAM-SHA-256, TLS)', () => {
  it('seqae worker and seqae produce connect with the right credentials', async () => {
    const env = saslEnv('sasl-ok', PASSWORD);
    const config = testConfig('sasl-ok', env);
    await cleanupRedis(config);
    const port = await freePort();
    const worker = spawnWorker(
      { ...env, SEQAE_ROLES: 'stream', SEQAE_HTTP_PORT: String(port) },
      'sasl-worker',
    );
    children.push(worker);
    await waitFor('the worker ready over SASL_SSL', async () => {
      if (worker.proc.exitCode !== null)
        throw new Fatal(`worker exited:\n${worker.log.slice(-10).join('\n')}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    });

    const producer = spawnProducer(
      ['--source', 'synthetic:sine?streams=1&length=20', '--window', '5', '--no-progress'],
      { ...env, SEQAE_HTTP_PORT: '0' },
      'sasl-producer',
    );
    children.push(producer);
    expect(await producer.exited, producer.log.slice(-10).join('\n')).toBe(0);
    // The stream has no model: the worker holds its windows; they are on the topic, read over SASL_SSL.
    const { createKafka } = await import('../../src/transport/kafka.js');
    const admin = createKafka(config).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(config.topics.windows);
      expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(16);
    } finally {
      await admin.disconnect();
    }
  });

  it('a wrong password stops seqae worker with one line naming Kafka and the user, exit 2', async () => {
    const wrong = 'wrong-password-42';
    const worker = spawnWorker(
      { ...saslEnv('sasl-wrong', wrong), SEQAE_ROLES: 'stream', SEQAE_HTTP_PORT: '0' },
      'sasl-wrong',
    );
    children.push(worker);
    const code = await Promise.race([
      worker.exited,
      new Promise((resolve) => setTimeout(() => resolve('still running after 60 s'), 60_000)),
    ]);
    // The same exit as Redis refusing its credentials: a setting to fix, not a failure to retry.
    expect(code, worker.log.join('\n')).toBe(2);
    const lines = worker.log.filter((l) => !l.includes('"level"'));
    expect(lines, worker.log.join('\n')).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `seqae: Kafka at 127\\.0\\.0\\.1:${saslPort} refused the scram-sha-256 login of user "${USER}"`,
      ),
    );
    expect(lines[0]).toMatch(/authentication failed/i);
    expect(worker.log.join('\n')).not.toContain(wrong);
  });

  it('SASL settings against a listener without SASL stop seqae produce the same way', async () => {
    const env = {
      ...saslEnv('sasl-plain', PASSWORD),
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_SSL: 'false',
      SEQAE_HTTP_PORT: '0',
    };
    const producer = spawnProducer(
      ['--source', 'synthetic:sine?streams=1&length=20', '--window', '5', '--no-progress'],
      env,
      'sasl-plain',
    );
    children.push(producer);
    expect(await producer.exited, producer.log.join('\n')).toBe(2);
    const lines = producer.log.filter((l) => !l.includes('"level"'));
    expect(lines, producer.log.join('\n')).toHaveLength(1);
    expect(lines[0]).toMatch(
      /seqae produce: Kafka at 127\.0\.0\.1:\d+ refused the scram-sha-256 login/,
    );
    expect(producer.log.join('\n')).not.toContain(PASSWORD);
  });

  // The first test's producer sends with the default client (platformatic); this one with kafkajs.
  it("KAFKA_PRODUCER_CLIENT=kafkajs produces over SASL_SSL too; platformatic's wrong password is one line", async () => {
    const env = { ...saslEnv('sasl-pk', PASSWORD), KAFKA_PRODUCER_CLIENT: 'kafkajs' };
    const config = testConfig('sasl-pk', env);
    const producer = spawnProducer(
      ['--source', 'synthetic:sine?streams=1&length=20', '--window', '5', '--no-progress'],
      { ...env, SEQAE_HTTP_PORT: '0' },
      'sasl-pk',
    );
    children.push(producer);
    expect(await producer.exited, producer.log.slice(-10).join('\n')).toBe(0);
    const { createKafka, loginAccepted } = await import('../../src/transport/kafka.js');
    const admin = createKafka(config).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(config.topics.windows);
      expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(16);
    } finally {
      await admin.disconnect();
    }

    const { PlatformaticOutput } = await import('../../src/transport/platformatic-output.js');
    const { isUnreachable } = await import('../../src/transport/unreachable.js');
    const wrong = testConfig('sasl-pk-wrong', { ...env, KAFKA_SASL_PASSWORD: 'wrong-password-42' });
    const out = new PlatformaticOutput(wrong, { compression: 'none' });
    const err = await loginAccepted(out.connect(), wrong).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    await out.close();
    expect(err?.code).toBe('config');
    expect(isUnreachable(err?.cause)).toBe(false);
    expect(err?.message).toMatch(
      new RegExp(
        `Kafka at 127\\.0\\.0\\.1:${saslPort} refused the scram-sha-256 login of user "${USER}"`,
      ),
    );
    expect(err?.message).toMatch(/authentication failed/i);
    expect(err?.message).not.toContain('wrong-password-42');
  });
});
