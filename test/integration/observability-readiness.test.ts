/**
 * /readyz against the real services: 503 naming Kafka while the configured brokers do not answer,
 * 200 once they do, with the same admin client (the process does not need a restart). "Down" is a
 * closed port; "back" is a TCP relay to the real broker opened on that very port.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { Readiness } from '../../src/http/index.js';
import { composeReady, kafkaReady, redisReady, startHttpServer } from '../../src/http/index.js';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { testConfig } from '../support/services.js';

const config = testConfig('observability-readiness');
const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

/** A port nothing listens on (bound, read, released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Relays `port` on 127.0.0.1 to `target` (host:port). */
async function relay(port: number, target: string): Promise<Server> {
  const [host, targetPort] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.split(':').pop()),
  ];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(resolve);
      }),
  );
  return server;
}

async function readyz(url: string): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

describe('/readyz with real Redis and Kafka', () => {
  it('is 200 when both answer', async () => {
    const redis = createRedis(config, { name: 'readyz-test' });
    const admin = createKafka(config, { clientId: 'readyz-test' }).admin();
    cleanup.push(
      () => redis.quit(),
      () => admin.disconnect(),
    );
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      ready: composeReady({ redis: redisReady(redis), kafka: kafkaReady(admin) }),
    });
    cleanup.push(() => server.close());
    const { status, body } = await readyz(server.url);
    expect(body).toEqual({
      status: 'ready',
      ok: true,
      checks: { redis: { ok: true }, kafka: { ok: true } },
    });
    expect(status).toBe(200);
  });

  it('is 503 naming Kafka while its brokers do not answer, and 200 once they do', async () => {
    const port = await closedPort();
    const down = { ...config, kafka: { ...config.kafka, brokers: [`127.0.0.1:${port}`] } };
    const redis = createRedis(config, { name: 'readyz-kafka-down' });
    const admin = createKafka(down, { clientId: 'readyz-kafka-down' }).admin();
    cleanup.push(
      () => redis.quit(),
      () => admin.disconnect(),
    );
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      ready: composeReady({
        redis: redisReady(redis),
        kafka: kafkaReady(admin, { timeoutMs: 1000 }),
      }),
    });
    cleanup.push(() => server.close());

    const before = await readyz(server.url);
    expect(before.status).toBe(503);
    expect(before.body.ok).toBe(false);
    expect(before.body.reason).toMatch(/^kafka: /);
    expect(before.body.checks?.redis).toEqual({ ok: true });

    await relay(port, config.kafka.brokers[0]);
    let after = await readyz(server.url);
    const deadline = Date.now() + 90_000; // kafkajs retries with backoff; the probe in flight ends first
    while (after.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      after = await readyz(server.url);
    }
    expect(after.body).toMatchObject({ status: 'ready', ok: true });
    expect(after.status).toBe(200);
  });

  it('is 503 naming Redis when its connection is gone', async () => {
    const redis = createRedis(config, { name: 'readyz-redis-gone' });
    const admin = createKafka(config, { clientId: 'readyz-redis-gone' }).admin();
    cleanup.push(() => admin.disconnect());
    await redis.ping();
    redis.disconnect();
    const ready = composeReady({ redis: redisReady(redis), kafka: kafkaReady(admin) });
    const result = await ready();
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/^redis: (connection (end|close)|Connection is closed)/);
    expect(result.checks?.kafka).toEqual({ ok: true });
  });
});
