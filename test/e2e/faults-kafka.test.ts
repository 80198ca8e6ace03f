/**
 * Kafka faults against a broker of this file's own (the shared one is never touched): stopped and
 * restarted mid-stream, frozen (SIGSTOP) longer than the clients' timeouts, and a producer faster
 * than the worker. `seqae produce` and `seqae worker` run as child processes, as a user runs them;
 * every window produced must come out on every output topic (de-duplicated by window identity).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import type { SeqaeConfig } from '../../src/config/index.js';
import { startOwnBroker, type OwnBroker } from '../support/broker.js';
import { collectOutputs, type Collected } from '../support/kafka.js';
import { publishModel } from '../support/models.js';
import {
  freePort,
  spawnProducer,
  spawnWorker,
  stopChild,
  type Child,
} from '../support/processes.js';
import { cleanupRedis, createTopics, testConfig, testEnv } from '../support/services.js';
import { Fatal, waitFor } from '../support/wait.js';

const OUTPUTS = ['reconstructions', 'predictions', 'embeddings', 'anomalies'] as const;
const WINDOW = 9;

let broker: OwnBroker;
const children: Child[] = [];
let outputs: Collected | undefined;

beforeAll(async () => {
  await initBackend('auto');
  broker = await startOwnBroker();
});
afterEach(async () => {
  if (broker.pid() === undefined)
    await broker.restart(); // a failed test left it stopped
  else broker.thaw(); // or frozen
  await Promise.all(children.splice(0).map((c) => stopChild(c, 5_000)));
  await outputs?.stop();
  outputs = undefined;
});
afterAll(async () => {
  await broker?.close();
});

const running = (c: Child) => {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null)
    throw new Fatal(`${c.log[0] ?? 'child'} exited early:\n${c.log.slice(-20).join('\n')}`);
};

/**
 * A scenario's settings, topics (2 partitions), a model `g` of `units` units shared by every stream,
 * and a stream worker, ready.
 */
async function scenario(name: string, env: Record<string, string> = {}, units = 16) {
  const vars = testEnv(name, { KAFKA_BROKERS: broker.brokers[0]!, SEQAE_MODEL_GROUP: 'g', ...env });
  const config = testConfig(name, vars);
  await cleanupRedis(config);
  await createTopics(config, Object.values(config.topics), 2);
  await publishModel(config, 'g', WINDOW, units);
  const port = await freePort();
  const worker = spawnWorker(
    { ...vars, SEQAE_ROLES: 'stream', SEQAE_HTTP_PORT: String(port) },
    `${name}-worker`,
  );
  children.push(worker);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the worker ready', async () => (running(worker), await ready(url)) === 200);
  return { vars, config, worker, url };
}

async function ready(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) })).status;
}

/** The sum of a metric's samples on a /metrics page. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** `seqae produce` of `streams` synthetic sine streams of `length` readings, at `speed`. */
function produce(vars: Record<string, string>, streams: number, length: number, speed?: number) {
  const source = `synthetic:sine?streams=${streams}&length=${length}&seed=3`;
  const args = ['--source', source, '--window', String(WINDOW), '--no-progress', '--no-http'];
  const p = spawnProducer(speed ? [...args, '--speed', String(speed)] : args, vars, 'producer');
  children.push(p);
  return p;
}

/** The ids of every window of `produce(…, streams, length)`: `syn-sine-<i>:<seq>`. */
function expectedIds(streams: number, length: number): Set<string> {
  const ids = new Set<string>();
  for (let s = 0; s < streams; s++)
    for (let seq = WINDOW - 1; seq < length; seq++) ids.add(`syn-sine-${s}:${seq}`);
  return ids;
}

/** Waits until every expected window has its outputs on every output topic, and no more. */
async function expectEveryWindowScored(config: SeqaeConfig, name: string, ids: Set<string>) {
  outputs = await collectOutputs(config, name);
  const o = outputs;
  await waitFor(
    `${ids.size} windows on every output topic`,
    () => OUTPUTS.every((t) => o.ids(t).size >= ids.size),
    150_000,
    500,
  );
  for (const t of OUTPUTS) expect([...o.ids(t)].sort()).toEqual([...ids].sort());
  expect(o.messages.get('dlq')).toHaveLength(0);
}

/**
 * A fault in the middle of a stream: `seqae produce` sends 4 streams of 1500 readings over ~15 s to a
 * stream worker; once the worker has consumed some, `fault` runs. Afterwards the producer has ended
 * well, every window has its outputs, the worker still runs and is ready.
 */
async function midStream(
  name: string,
  env: Record<string, string>,
  fault: (p: { worker: Child; producer: Child; url: string }) => Promise<void>,
) {
  const { vars, config, worker, url } = await scenario(name, env);
  const [streams, length] = [4, 1500];
  const producer = produce(vars, streams, length, 100);
  await waitFor(
    'windows consumed',
    async () => (running(worker), await metric(url, 'seqae_windows_consumed_total')) > 0,
  );
  await fault({ worker, producer, url });
  expect(await producer.exited, producer.log.slice(-15).join('\n')).toBe(0);
  await expectEveryWindowScored(config, name, expectedIds(streams, length));
  running(worker);
  await waitFor('/readyz 200', async () => (await ready(url)) === 200, 60_000);
}

const rss = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

describe('Kafka faults (a broker of the test’s own)', () => {
  it('broker stopped and restarted mid-stream: producer and worker reconnect, no window is missing', async () => {
    await midStream('fault-broker-restart', {}, async () => {
      await broker.stop();
      await sleep(5_000);
      await broker.restart();
    });
  });

  it('broker frozen longer than the client timeouts: /readyz says so, nothing crashes, work resumes', async () => {
    const env = { SEQAE_SESSION_TIMEOUT_MS: '10000' };
    await midStream('fault-broker-frozen', env, async ({ worker, producer, url }) => {
      broker.freeze();
      await waitFor('/readyz 503 while frozen', async () => (await ready(url)) === 503, 30_000);
      await sleep(35_000); // longer than kafkajs' 30 s request timeout and the 10 s session
      running(worker);
      running(producer);
      broker.thaw();
    });
  });

  it('producer faster than the worker: lag grows and is reported, memory stays bounded, nothing is dropped', async () => {
    const name = 'fault-slow-worker';
    // A bigger model and small slices: the worker scores far slower than the producer sends.
    const { vars, config, worker, url } = await scenario(name, { SEQAE_BATCH_MAX: '16' }, 100);
    const [streams, length] = [8, 3000];
    const producer = produce(vars, streams, length); // full speed
    let maxLag = 0;
    const peak = { worker: 0, producer: 0 };
    let scored = 0;
    const sample = async () => {
      maxLag = Math.max(maxLag, await metric(url, 'seqae_kafka_consumer_lag'));
      peak.worker = Math.max(peak.worker, rss(worker.proc.pid!));
      if (producer.proc.exitCode === null)
        peak.producer = Math.max(peak.producer, rss(producer.proc.pid!));
    };
    while (producer.proc.exitCode === null && producer.proc.signalCode === null) {
      running(worker);
      await sample().catch(() => {});
      await sleep(250);
    }
    expect(await producer.exited, producer.log.slice(-15).join('\n')).toBe(0);
    scored = await metric(url, 'seqae_windows_consumed_total');
    // The producer was done while the worker was still behind, and the lag said so.
    expect(scored).toBeLessThan(streams * (length - WINDOW + 1));
    await waitFor(
      'the lag reported',
      async () => {
        await sample();
        return maxLag > 1000;
      },
      30_000,
      500,
    );

    await expectEveryWindowScored(config, name, expectedIds(streams, length));
    await waitFor(
      'the lag back to 0',
      async () => (await metric(url, 'seqae_kafka_consumer_lag')) === 0,
      30_000,
      1_000,
    );
    // Generous bounds: a process that buffered the whole backlog would not stay under them.
    expect(peak.producer).toBeLessThan(600 * 2 ** 20);
    expect(peak.worker).toBeLessThan(1200 * 2 ** 20);
  });
});
