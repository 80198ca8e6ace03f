/**
 * A real Prometheus (the Debian package's binary) scrapes a real seqae worker: `seqae worker` started
 * through the CLI as its own process, with real Redis and Kafka. Asserts through Prometheus' HTTP
 * query API that the target is up and that the worker's counters move once windows are processed.
 * Prometheus runs on a free port with its own config and storage under a temporary folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../src/transport/kafka.js';
import { encodeWindow, windowId, type Window } from '../../src/windows/contract.js';
import { cleanupRedis, createTopics, testConfig } from '../helpers/services.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const GROUP = `seqae-prometheus-${process.pid}`;
const NIN = 9;
const config = testConfig('prometheus-scrape', {
  SEQAE_GROUP_ID: GROUP,
  SEQAE_WINDOW: String(NIN),
  SEQAE_WARMUP_WINDOWS: '100000', // windows wait for a model that is never trained: no CPU spent
  SEQAE_BACKEND: 'cpu',
});
const JOB = 'seqae-worker';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Thrown by a probe to stop waiting at once (a process died). */
class Fatal extends Error {}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof Fatal) throw error;
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function started(command: string, args: string[], env: NodeJS.ProcessEnv, log: string[]) {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    log.push(chunk.toString('utf8'));
    if (log.length > 200) log.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null)
    return child?.exitCode ?? null;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await exited) as [number | null];
  clearTimeout(timer);
  return code;
}

let workerPort = 0;
let promUrl = '';
let worker: ChildProcess | undefined;
let prometheus: ChildProcess | undefined;
const workerLog: string[] = [];
const promLog: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'seqae-prometheus-'));

/** One instant query; the vector's samples as `{ labels, value }`. */
async function query(
  expr: string,
): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}

async function scalar(expr: string): Promise<number | undefined> {
  const [first] = await query(expr);
  return first?.value;
}

beforeAll(async () => {
  await createTopics(config, Object.values(config.topics), 2);
  workerPort = await freePort();

  // The worker, configured like a container would be: every setting through its variable.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: config.redis.url,
    KAFKA_BROKERS: config.kafka.brokers.join(','),
    KAFKA_CLIENT_ID: 'seqae-prometheus-worker',
    SEQAE_TOPIC_PREFIX: config.topics.windows.slice(0, -'windows'.length),
    SEQAE_QUEUE_PREFIX: config.queues.infer.slice(0, -'infer'.length),
    SEQAE_BULL_PREFIX: config.queues.prefix,
    SEQAE_KEY_PREFIX: config.redis.keyPrefix,
    SEQAE_GROUP_ID: GROUP,
    SEQAE_WINDOW: String(NIN),
    SEQAE_WARMUP_WINDOWS: '100000',
    SEQAE_BACKEND: 'cpu',
    SEQAE_HTTP_HOST: '127.0.0.1',
    SEQAE_HTTP_PORT: String(workerPort),
    SEQAE_LOG_LEVEL: 'info',
  };
  worker = started(
    process.execPath,
    ['bin/seqae.js', 'worker', '--roles', 'stream,infer'],
    env,
    workerLog,
  );
  worker.on(
    'exit',
    (code) => code && console.error(`worker exited ${code}:\n${workerLog.join('')}`),
  );
  await waitFor('the worker to be ready', async () => {
    if (worker!.exitCode !== null) throw new Fatal(`worker exited: ${workerLog.join('')}`);
    const res = await fetch(`http://127.0.0.1:${workerPort}/readyz`);
    return res.status === 200 ? true : undefined;
  });

  // Prometheus with its own config and storage, scraping the worker every second.
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      `  - job_name: ${JOB}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${workerPort}']`,
      '',
    ].join('\n'),
  );
  prometheus = started(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    process.env,
    promLog,
  );
  prometheus.on('error', (error) => promLog.push(String(error)));
  await waitFor(
    'Prometheus to be ready',
    async () => {
      if (prometheus!.exitCode !== null || promLog.some((l) => l.includes('ENOENT')))
        throw new Fatal(
          `prometheus did not start (install Debian's prometheus package: apt-get install -y --no-install-recommends prometheus): ${promLog.join('')}`,
        );
      return (await fetch(`${promUrl}/-/ready`)).ok ? true : undefined;
    },
    60_000,
  );
});

afterAll(async () => {
  await stop(prometheus);
  const code = await stop(worker);
  rmSync(dir, { recursive: true, force: true });
  await cleanupRedis(config);
  expect(code, `worker exit code; log:\n${workerLog.join('')}`).toBe(0);
});

describe('Prometheus scraping a running worker', () => {
  it('sees the worker target up, with its build info', async () => {
    const up = await waitFor('up == 1', async () =>
      (await scalar(`up{job="${JOB}"}`)) === 1 ? 1 : undefined,
    );
    expect(up).toBe(1);
    const [info] = await query(`seqae_build_info{job="${JOB}"}`);
    expect(info.labels).toMatchObject({ role: 'worker', backend: 'cpu' });
    expect(info.value).toBe(1);
  });

  it('sees the windows-consumed counter move after windows were processed', async () => {
    const expr = `sum(seqae_windows_consumed_total{job="${JOB}"}) or vector(0)`;
    const before = (await scalar(expr)) ?? 0;

    const windows: Window[] = Array.from({ length: 40 }, (_, i) => ({
      v: 1,
      streamId: `prom-${i % 4}`,
      seq: NIN - 1 + Math.floor(i / 4),
      end: Date.now(),
      step: 1000,
      values: Array.from({ length: NIN }, (_, k) => [Math.sin(i + k)]),
    }));
    const producer = createKafka(config, { clientId: 'prometheus-test-producer' }).producer();
    await producer.connect();
    await producer.send({
      topic: config.topics.windows,
      acks: -1,
      messages: windows.map((w) => ({
        key: w.streamId,
        value: encodeWindow(w),
        headers: { 'seqae-id': windowId(w) },
      })),
    });
    await producer.disconnect();

    const after = await waitFor('the counter to move by 40 in Prometheus', async () => {
      const v = (await scalar(expr)) ?? 0;
      return v >= before + windows.length ? v : undefined;
    });
    expect(after - before).toBe(windows.length);
    // The same scrape path carries the collectors: consumer lag of the worker's group.
    const lag = await waitFor('consumer lag series', async () => {
      const r = await query(`seqae_kafka_consumer_lag{job="${JOB}",group="${GROUP}"}`);
      return r.length > 0 ? r : undefined;
    });
    expect(lag.map((s) => s.labels.topic)).toContain(config.topics.windows);
  });
});
