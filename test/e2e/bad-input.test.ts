/**
 * Bad input, written by external clients (kcat onto the windows and readings topics, plain BullMQ
 * producers onto the queues, a tampered artifact in the registry, bad flags and variables): each is
 * refused with its reason (a dead letter, a failed job, one line and exit 2) and the process goes on,
 * a valid message after it still scored or produced. Secrets given to a worker never show in its
 * output, its errors or /metrics.
 */
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import type { SeqaeConfig } from '../../src/config/index.js';
import { parseDlq } from '../../src/contracts/dead-letter.js';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import { datasetFromStreams } from '../../src/training/training.js';
import { collectOutputs, type Collected } from '../support/kafka.js';
import { spawnChild, spawnWorker, stopChild, type Child } from '../support/processes.js';
import { cleanupRedis, createTopics, testConfig, testEnv } from '../support/services.js';
import { Fatal, waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

/** Writes `lines` onto `topic` with kcat, one message a line, each with `key`. */
function kcat(config: SeqaeConfig, topic: string, key: string, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-b', config.kafka.brokers.join(','), '-P', '-t', topic, '-K', '\t'];
    const p = spawn('kcat', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat: ${err}`))));
    p.stdin.end(lines.map((l) => `${key}\t${l}\n`).join(''));
  });
}

/** The reasons of the dead letters collected so far, sorted. */
const reasons = (outputs: Collected) =>
  outputs.messages
    .get('dlq')!
    .map((m) => parseDlq(JSON.stringify(m.value)).reason)
    .sort();

/** A model trained on clean windows of `streamId` (nIn 9, one feature): its artifact bytes. */
async function trainedArtifact(streamId: string): Promise<Uint8Array> {
  const model = SequenceAutoencoder.create({ nIn: 9, units: 8, epochs: 1, seed: 1 });
  await model.train(datasetFromStreams(model, sineWindows(streamId, 16, 9)));
  const bytes = await model.save();
  model.dispose();
  return bytes;
}

const meta = (streamId: string) => ({
  variant: 'composite' as const,
  config: {},
  streams: [streamId],
  createdAt: Date.now(),
});

/** A window of stream `s` as JSON, with `patch` over it. */
const windowJson = (seq: number, patch: Record<string, unknown> = {}) =>
  JSON.stringify({ ...sineWindows('s', 1, 9, seq - 8)[0], ...patch });

describe('a worker refuses bad input and goes on', () => {
  const config = testConfig('bad-input', { SEQAE_MAX_WINDOW_VALUES: '1000' });
  let worker: Child | undefined;
  let outputs: Collected | undefined;
  let registry: ModelRegistry;
  const redis = createRedis(config);

  const scored = (seq: number) => outputs!.ids('anomalies').has(`s:${seq}`);
  const versionOf = (seq: number) =>
    outputs!.messages.get('anomalies')!.find((m) => m.headers['seqae-id'] === `s:${seq}`)?.headers[
      'seqae-model-version'
    ];
  const alive = () => {
    if (worker!.proc.exitCode !== null)
      throw new Fatal(`worker exited:\n${worker!.log.join('\n')}`);
  };

  beforeAll(async () => {
    await initBackend('auto'); // to train the model published before the worker starts
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 1);
    registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 5 });
    await registry.publish('s', await trainedArtifact('s'), meta('s'));
    outputs = await collectOutputs(config, 'bad-input');
    worker = spawnWorker(
      testEnv('bad-input', { SEQAE_MAX_WINDOW_VALUES: '1000', SEQAE_HTTP_PORT: '0' }),
      'worker',
    );
    await waitFor(
      'worker ready',
      () => (alive(), worker!.log.some((l) => l.includes('worker ready'))),
      120_000,
    );
  });
  afterAll(async () => {
    await stopChild(worker);
    await outputs?.stop();
    await registry?.close();
    redis.disconnect();
  });

  it('dead-letters hostile messages on the windows topic with their reasons, then scores a good one', async () => {
    const hostile = [
      'not json',
      windowJson(100, { v: 2 }),
      windowJson(101, { end: undefined }),
      windowJson(102).replace(/\[[^[\]]+\]/, '[1e999]'),
      windowJson(103).replace('{', '{"__proto__":{"polluted":true},'),
      windowJson(104).replace('{', '{"constructor":{"prototype":{"polluted":true}},'),
      JSON.stringify({ ...JSON.parse(windowJson(105)), values: [[1], [2], [3]] }),
      JSON.stringify({
        ...JSON.parse(windowJson(106)),
        values: sineWindows('s', 1, 9)[0]!.values.map((r) => [r[0]!, 0]),
      }),
      JSON.stringify({
        ...JSON.parse(windowJson(107)),
        values: Array.from({ length: 9 }, () => Array(200).fill(0)),
      }),
      `{"pad":"${'x'.repeat(120_000)}"}`,
    ];
    await kcat(config, config.topics.windows, 's', [...hostile, windowJson(200)]);
    await waitFor('the good window scored', () => (alive(), scored(200)), 60_000);
    await waitFor('every dead letter', () => reasons(outputs!).length >= hostile.length, 30_000);
    expect(reasons(outputs!)).toEqual(
      [
        'bad_json',
        'unknown_version',
        'schema',
        'non_finite',
        'schema',
        'schema',
        'shape_mismatch',
        'shape_mismatch',
        'too_large',
        'too_large',
      ].sort(),
    );
    expect(worker!.log.join('\n')).not.toMatch(/polluted/);
  });

  it('refuses a truncated and a tampered model version before loading, and keeps scoring with the one before', async () => {
    const good = await trainedArtifact('s');
    await registry.publish('s', good.subarray(0, good.length - 100), meta('s')); // v2: truncated
    const tampered = Buffer.from(good);
    tampered[tampered.length - 5]! ^= 0xff; // a weight byte: the artifact's own digest no longer holds
    await registry.publish('s', tampered, meta('s')); // v3
    await kcat(config, config.topics.windows, 's', [windowJson(201)]);
    await waitFor('window 201 scored', () => (alive(), scored(201)), 60_000);
    expect(versionOf(201)).toBe('1');
    const refused = worker!.log.filter((l) => l.includes('model version refused')).join('\n');
    expect(refused).toMatch(/"version":2.*truncated artifact/);
    expect(refused).toMatch(/"version":3.*weight digest mismatch/);
    // An artifact changed in Redis after publication is refused by the registry itself.
    const v4 = await registry.publish('other', good, meta('other'));
    await redis.setrange(`${config.redis.keyPrefix}:model:{other}:v:${v4}:artifact`, 20, 'X');
    await expect(registry.get('other', v4)).rejects.toThrow(/changed since publication/);
  });

  it('fails jobs of unknown types and bad training jobs at once, and still does good ones', async () => {
    const connection = createRedis(config, { bullmq: true });
    const opts = { connection, prefix: config.queues.prefix };
    const infer = new Queue(config.queues.infer, opts);
    const train = new Queue(config.queues.train, opts);
    try {
      const window = JSON.parse(windowJson(300)) as object;
      const jobs = [
        await infer.add('exec', window, { attempts: 3 }),
        await infer.add(
          'window',
          { ...window, values: Array.from({ length: 9 }, () => Array(200).fill(0)) },
          { attempts: 3 },
        ),
        await train.add('exec', { modelId: 's', reason: 'request' }, { attempts: 3 }),
        await train.add('train', { modelId: 's', reason: 'because' }, { attempts: 3 }),
      ];
      const good = await infer.add('window', window, { attempts: 3 });
      await waitFor(
        'the good infer job completed',
        async () => (alive(), (await good.getState()) === 'completed'),
        60_000,
      );
      const failed = async () =>
        Promise.all(
          jobs.map(
            async (j) => (await (j.queueName === infer.name ? infer : train).getJob(j.id!))!,
          ),
        );
      await waitFor(
        'every bad job failed',
        async () =>
          (await Promise.all((await failed()).map((j) => j.getState()))).every(
            (s) => s === 'failed',
          ),
        60_000,
      );
      const done = await failed();
      expect(done.map((j) => j.failedReason.split(':')[0])).toEqual([
        'unknown_job',
        'too_large',
        'unknown_job',
        'schema',
      ]);
      expect(done.map((j) => j.attemptsMade)).toEqual([1, 1, 1, 1]); // not retried
    } finally {
      await infer.close();
      await train.close();
      connection.disconnect();
    }
  });
});

describe('a producer reading the readings topic refuses bad readings and goes on', () => {
  it('dead-letters each with its reason and windows the good readings around them', async () => {
    const env = testEnv('bad-readings', {
      SEQAE_MAX_WINDOW_VALUES: '6',
      SEQAE_MAX_LINE_BYTES: '200',
      SEQAE_WINDOW: '3',
    });
    const config = testConfig('bad-readings', env);
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 1);
    const outputs = await collectOutputs(config, 'bad-readings');
    const reading = (ts: number, extra = '') =>
      `{"streamId":"r",${extra}"ts":${ts},"values":[${ts},${ts}]}`;
    await kcat(config, config.topics.readings, 'r', [
      reading(1),
      'not json',
      reading(2, '"v":2,'),
      '{"streamId":"r","values":[1,1]}',
      '{"streamId":"r","ts":3,"values":["NaN",1]}',
      reading(3, '"__proto__":{"polluted":true},'),
      reading(3, `"pad":"${'x'.repeat(300)}",`),
      '{"streamId":"r","ts":3,"values":[1,2,3]}',
      ...Array.from({ length: 11 }, (_, i) => reading(i + 2)),
    ]);
    const p = spawnChild(
      'producer',
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'produce',
        '--source',
        'kafka',
        '--idle-exit',
        '5000',
        '--no-http',
        '--no-progress',
      ],
      { ...process.env, ...env },
    );
    try {
      expect(await p.exited, p.log.join('\n')).toBe(0);
      await waitFor('dead letters', () => outputs.messages.get('dlq')!.length >= 7, 30_000);
      expect(reasons(outputs)).toEqual(
        [
          'bad_json',
          'unknown_version',
          'schema',
          'non_finite',
          'schema',
          'oversized',
          'too_large',
        ].sort(),
      );
      const summary = JSON.parse(
        p.log.find((l) => l.startsWith('[producer] {"source"'))!.slice(11),
      );
      expect(summary.readings).toBe(12); // 1 to 12, every good one
      expect(summary.windows).toBeGreaterThan(0);
    } finally {
      await stopChild(p);
      await outputs.stop();
    }
  });
});

describe('bad flags, bad variables and secrets', () => {
  const cli = (args: string[], env: Record<string, string>) =>
    spawnChild('cli', process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      ...process.env,
      ...env,
    });
  const secrets = ['hunter2-url-secret', 'redis-password-secret', 'kafka-sasl-secret'];
  const leaks = (text: string) => secrets.filter((s) => text.includes(s));

  it('refuses an invalid flag or variable with one line and exit 2', async () => {
    const env = testEnv('bad-flags');
    for (const [args, extra, expected] of [
      [['worker', '--bogus'], {}, /^seqae worker: unknown option '--bogus'/],
      [['worker', '--concurrency', 'many'], {}, /^seqae: SEQAE_CONCURRENCY: /],
      [
        ['produce', '--source', 'kafka', '--speed', 'warp'],
        {},
        /^seqae produce: option '--speed <x>'/,
      ],
      [['worker'], { SEQAE_MAX_WINDOW_VALUES: '-1' }, /^seqae: SEQAE_MAX_WINDOW_VALUES: /],
      [
        ['worker'],
        { REDIS_URL: `http://:${secrets[0]}@127.0.0.1` },
        /^seqae: REDIS_URL: .*http:\/\/:\*\*\*@/,
      ],
    ] as const) {
      const c = cli([...args], { ...env, ...extra });
      expect(await c.exited, c.log.join('\n')).toBe(2);
      const lines = c.log.filter((l) => !l.includes('npm warn'));
      expect(lines, lines.join('\n')).toHaveLength(1);
      expect(lines[0]!.replace('[cli] ', '')).toMatch(expected);
      expect(leaks(lines[0]!)).toEqual([]);
    }
  });

  it('never shows a secret in logs, errors or /metrics, and serves nothing but its three endpoints on 127.0.0.1', async () => {
    const { redisUrl } = { redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
    const env = testEnv('secrets', {
      REDIS_URL: redisUrl.replace('://', `://:${secrets[0]}@`),
      REDIS_PASSWORD: secrets[1]!,
      SEQAE_HTTP_PORT: '0',
      SEQAE_ROLES: 'stream',
    });
    delete (env as Record<string, string>).SEQAE_HTTP_HOST;
    const w = spawnWorker({ ...env, SEQAE_LOG_LEVEL: 'debug' }, 'worker');
    let body = '';
    try {
      await waitFor(
        'worker ready',
        () => {
          if (w.proc.exitCode !== null) throw new Fatal(w.log.join('\n'));
          return w.log.some((l) => l.includes('worker ready'));
        },
        120_000,
      );
      const url = /"url":"(http:\/\/[^"]+)"/.exec(
        w.log.find((l) => l.includes('worker ready'))!,
      )![1]!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:/);
      body += await (await fetch(`${url}/metrics`)).text();
      body += await (await fetch(`${url}/readyz`)).text();
      for (const [method, path] of [
        ['POST', '/metrics'],
        ['GET', '/run?cmd=id'],
        ['PUT', '/readyz'],
        ['GET', '/../../etc/passwd'],
      ] as const) {
        const r = await fetch(`${url}${path}`, {
          method,
          body: method === 'GET' ? undefined : 'id',
        });
        expect([404, 405]).toContain(r.status);
      }
    } finally {
      await stopChild(w);
    }
    // Kafka with SASL against a broker without it: a start error, its line free of the password.
    const k = cli(['worker'], {
      ...testEnv('secrets-kafka'),
      SEQAE_HTTP_PORT: '0',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: secrets[2]!,
      REDIS_URL: env.REDIS_URL!,
      SEQAE_LOG_LEVEL: 'debug',
    });
    const code = await Promise.race([
      k.exited,
      new Promise((r) => setTimeout(() => r('running'), 60_000)),
    ]);
    await stopChild(k);
    expect(code).not.toBe(0);
    const all = [...w.log, ...k.log, body].join('\n');
    expect(leaks(all)).toEqual([]);
  });
});
