/**
 * A real Prometheus (the Debian package's binary) scrapes a real seqae worker: `seqae worker` started
 * through the CLI as its own process, with real Redis and Kafka. Asserts through Prometheus' HTTP
 * query API that the target is up and that the worker's counters move once windows are processed.
 * Prometheus runs on a free port with its own config and storage under a temporary folder.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Window } from '../../src/contracts/window.js';
import { sendWindows } from '../support/kafka.js';
import { freePort, spawnChild, stopChild, type Child } from '../support/processes.js';
import { cleanupRedis, createTopics, testConfig, testEnv } from '../support/services.js';
import { Fatal, waitFor } from '../support/wait.js';

const GROUP = `seqae-prometheus-${process.pid}`;
const NIN = 9;
const settings = {
  SEQAE_GROUP_ID: GROUP,
  SEQAE_WINDOW: String(NIN),
  SEQAE_WARMUP_WINDOWS: '100000', // windows wait for a model that is never trained: no CPU spent
  SEQAE_BACKEND: 'cpu',
};
const config = testConfig('prometheus-scrape', settings);
const JOB = 'seqae-worker';

let workerPort = 0;
let promUrl = '';
let worker: Child | undefined;
let prometheus: Child | undefined;
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
    ...testEnv('prometheus-scrape', settings),
    KAFKA_CLIENT_ID: 'seqae-prometheus-worker',
    SEQAE_HTTP_HOST: '127.0.0.1',
    SEQAE_HTTP_PORT: String(workerPort),
    SEQAE_LOG_LEVEL: 'info',
  };
  const w = spawnChild(
    'worker',
    process.execPath,
    ['bin/seqae.js', 'worker', '--roles', 'stream,infer'],
    env,
  );
  worker = w;
  w.proc.on('exit', (code) => code && console.error(`worker exited ${code}:\n${w.log.join('\n')}`));
  await waitFor('the worker to be ready', async () => {
    if (w.proc.exitCode !== null) throw new Fatal(`worker exited: ${w.log.join('\n')}`);
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
  const p = spawnChild(
    'prometheus',
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    process.env,
  );
  prometheus = p;
  await waitFor(
    'Prometheus to be ready',
    async () => {
      if (p.proc.exitCode !== null || p.log.some((l) => l.includes('ENOENT')))
        throw new Fatal(
          `prometheus did not start (install Debian's prometheus package: apt-get install -y --no-install-recommends prometheus): ${p.log.join('\n')}`,
        );
      return (await fetch(`${promUrl}/-/ready`)).ok ? true : undefined;
    },
    60_000,
  );
});

afterAll(async () => {
  await stopChild(prometheus);
  const code = await stopChild(worker);
  rmSync(dir, { recursive: true, force: true });
  await cleanupRedis(config);
  expect(code, `worker exit code; log:\n${worker?.log.join('\n')}`).toBe(0);
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
    await sendWindows(config, windows);

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
