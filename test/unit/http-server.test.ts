import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  composeReady,
  redisReady,
  startHttpServer,
  type HttpServer,
  type HttpServerOptions,
  type Readiness,
} from '../../src/http/index.js';
import { createMetricsRegistry, createWorkerMetrics } from '../../src/metrics/index.js';

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const LOOPBACK = { host: '127.0.0.1', port: 0 };

async function start(options: Omit<HttpServerOptions, 'host' | 'port'>): Promise<HttpServer> {
  const server = await startHttpServer({ ...LOOPBACK, ...options });
  servers.push(server);
  return server;
}

describe('startHttpServer', () => {
  it('serves the registry on /metrics in the Prometheus text format on an ephemeral port', async () => {
    const registry = createMetricsRegistry({ role: 'worker' });
    createWorkerMetrics(registry).windowsConsumed.inc({ source: 'kafka' }, 4);
    const server = await start({ metricsRegistry: registry });
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);

    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('seqae_windows_consumed_total{source="kafka"} 4');
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
  });

  it('serves a metrics source function with its content type', async () => {
    const server = await start({
      metricsSource: async () => 'x_total 1\n',
      contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
    });
    const res = await fetch(`${server.url}/metrics?x=1`);
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    expect(await res.text()).toBe('x_total 1\n');
  });

  it('answers 500 with the error when metrics cannot be rendered', async () => {
    const server = await start({
      metricsSource: async () => {
        throw new Error('registry broke');
      },
    });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('registry broke');
  });

  it('reports readiness 503 with the reason, then 200', async () => {
    let state: Readiness = { ok: false, reason: 'kafka: connection refused' };
    const server = await start({ ready: async () => state });
    let res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      status: 'not ready',
      ok: false,
      reason: 'kafka: connection refused',
    });
    state = { ok: true };
    res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', ok: true });
  });

  it('answers 503 when readiness throws or hangs', async () => {
    const throwing = await start({
      ready: async () => {
        throw new Error('boom');
      },
    });
    let res = await fetch(`${throwing.url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as Readiness).reason).toBe('boom');

    const hanging = await start({ ready: () => new Promise(() => {}), readyTimeoutMs: 50 });
    res = await fetch(`${hanging.url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as Readiness).reason).toMatch(
      /readiness check: no answer within 50 ms/,
    );
  });

  it('answers /healthz while a thread is busy computing, and 404/405 elsewhere', async () => {
    const server = await start({});
    const busy = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.postMessage('busy');
       const end = Date.now() + 3000; while (Date.now() < end) {}`,
      { eval: true },
    );
    try {
      await new Promise((resolve) => busy.once('message', resolve));
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok\n');
    } finally {
      await busy.terminate();
    }
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('refuses a port in use with a message naming it', async () => {
    const first = await start({});
    await expect(startHttpServer({ ...LOOPBACK, port: first.port })).rejects.toThrow(
      `cannot listen on 127.0.0.1:${first.port}`,
    );
  });
});

describe('composeReady', () => {
  it('names every check that is down', async () => {
    const ready = composeReady({
      redis: async () => ({ ok: true }),
      kafka: async () => ({ ok: false, reason: 'metadata request: no answer within 3000 ms' }),
      pool: async () => {
        throw new Error('no threads');
      },
    });
    expect(await ready()).toEqual({
      ok: false,
      reason: 'kafka: metadata request: no answer within 3000 ms; pool: no threads',
      checks: {
        redis: { ok: true },
        kafka: { ok: false, reason: 'metadata request: no answer within 3000 ms' },
        pool: { ok: false, reason: 'no threads' },
      },
    });
    expect((await composeReady({ a: async () => ({ ok: true }) })()).ok).toBe(true);
  });

  it('reports Redis down without waiting on a connection that is not up', async () => {
    // Port 1 is closed: ioredis keeps reconnecting; readiness says so instead of queueing a PING.
    const redis = new Redis({ port: 1, lazyConnect: false, maxRetriesPerRequest: null });
    redis.on('error', () => {});
    try {
      const result = await redisReady(redis, { timeoutMs: 200 })();
      expect(result.ok).toBe(false);
      expect(result.reason).toMatch(
        /^(connection (connecting|reconnecting|connect|close)|PING: no answer within 200 ms)$/,
      );
    } finally {
      redis.disconnect();
    }
  });
});
