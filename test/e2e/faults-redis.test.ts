/**
 * Redis restarted under a running worker: a redis-server of the test's own (free port, append-only
 * persistence with an fsync per write, as compose runs it) is stopped and started again on its data.
 * The model registry's versions and the queued training job survive; the stream worker reconnects,
 * is ready again and scores windows with the model it reads back; a train worker does the queued job.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { addTrainJob } from '../../src/contracts/jobs.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { collectOutputs, sendWindows } from '../support/kafka.js';
import { publishModel } from '../support/models.js';
import { freePort, spawnChild, spawnWorker, stopChild, type Child } from '../support/processes.js';
import { createTopics, testConfig, testEnv } from '../support/services.js';
import { Fatal, waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

let dir: string;
let port: number;
let redis: Child | undefined;
const children: Child[] = [];

/** redis-server on `port` over `dir`: append-only, fsync on every write, never evicting. */
async function startRedis(): Promise<void> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  redis = spawnChild(
    'redis',
    'redis-server',
    [...args, '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'],
    process.env,
  );
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  probe.on('error', () => {});
  try {
    await waitFor('redis-server', async () => (await probe.ping()) === 'PONG', 15_000);
  } finally {
    probe.disconnect();
  }
}

beforeAll(async () => {
  await initBackend('auto');
  dir = mkdtempSync(join(tmpdir(), 'seqae-redis-'));
  port = await freePort();
  await startRedis();
});
afterAll(async () => {
  await Promise.all(children.splice(0).map((c) => stopChild(c, 5_000)));
  await stopChild(redis, 5_000);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const running = (c: Child) => {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null)
    throw new Fatal(`exited early:\n${c.log.slice(-20).join('\n')}`);
};

describe('Redis restarted (a redis-server of the test’s own)', () => {
  it('keeps registry versions and queued jobs; workers reconnect and go on', async () => {
    const name = 'fault-redis-restart';
    const vars = testEnv(name, { REDIS_URL: `redis://127.0.0.1:${port}` });
    const config = testConfig(name, vars);
    await createTopics(config, Object.values(config.topics), 1);
    await publishModel(config, 'scored', 9, 8);
    // The test's own clients see Redis go away too: their reconnect errors are expected.
    const [bull, plain] = [createRedis(config, { bullmq: true }), createRedis(config)];
    for (const c of [bull, plain]) c.on('error', () => {});
    const queue = new Queue(config.queues.train, {
      connection: bull,
      prefix: config.queues.prefix,
    });
    const registry = new ModelRegistry(plain, {
      prefix: config.redis.keyPrefix,
      keep: 5,
    });
    const outputs = await collectOutputs(config, name);
    try {
      const jobId = await addTrainJob(queue, registry, {
        modelId: 'queued',
        reason: 'request',
        windows: sineWindows('queued', 256, 16),
      });
      const http = await freePort();
      const stream = spawnWorker(
        { ...vars, SEQAE_ROLES: 'stream', SEQAE_HTTP_PORT: String(http) },
        'stream-worker',
      );
      children.push(stream);
      const ready = async () =>
        (await fetch(`http://127.0.0.1:${http}/readyz`, { signal: AbortSignal.timeout(5_000) }))
          .status;
      await waitFor('the worker ready', async () => (running(stream), await ready()) === 200);

      await stopChild(redis, 10_000);
      await waitFor('/readyz 503 without Redis', async () => (await ready()) === 503, 30_000);
      await startRedis();

      expect(await registry.versions('scored')).toEqual([1]);
      expect(await queue.getJobState(jobId!)).toBe('waiting');
      await waitFor(
        '/readyz 200 again',
        async () => (running(stream), await ready()) === 200,
        60_000,
      );

      await sendWindows(config, sineWindows('scored', 50, 9));
      await waitFor(
        'windows scored after the restart',
        () => outputs.ids('anomalies').size === 50,
        60_000,
      );

      const train = spawnWorker(
        { ...vars, SEQAE_ROLES: 'train', SEQAE_HTTP_PORT: '0', SEQAE_EPOCHS: '1' },
        'train-worker',
      );
      children.push(train);
      await waitFor(
        'the queued job trained',
        async () => (running(train), await queue.getJobState(jobId!)) === 'completed',
        120_000,
      );
      expect(await registry.versions('queued')).toEqual([1]);
    } finally {
      await outputs.stop();
      await queue.close();
      await registry.close();
    }
  });
});
