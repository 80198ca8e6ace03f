/**
 * Producers against the real Kafka and Redis: a NAB file onto the windows topic and the infer queue,
 * bad rows onto the DLQ, readings from the readings topic (kafkajs and kcat as publishers), and the
 * `seqae produce` command itself.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import type { SeqaeConfig } from '../../src/config/index.js';
import { Producer, type ProduceOptions } from '../../src/producer/producer.js';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { parseWindow, windowId, type Window } from '../../src/contracts/window.js';
import { dlqOriginal, parseDlq } from '../../src/contracts/dead-letter.js';
import { parseTimestamp } from '../../src/contracts/reading.js';
import { readTopic } from '../support/kafka.js';
import { cleanupRedis, createTopics, testConfig, withKafkaAdmin } from '../support/services.js';

const NAB = 'test/fixtures/nab/realTraffic/speed_7578.csv';
const NAB_ROWS = 1127;
const configs: SeqaeConfig[] = [];

function config(name: string): SeqaeConfig {
  const c = testConfig(`producer-${name}`);
  configs.push(c);
  return c;
}

afterAll(async () => {
  for (const c of configs) await cleanupRedis(c);
});

async function setup(name: string, partitions = 1) {
  const c = config(name);
  await createTopics(c, [c.topics.windows, c.topics.dlq, c.topics.readings], partitions);
  return c;
}

async function produce(c: SeqaeConfig, options: ProduceOptions, signal?: AbortSignal) {
  const producer = new Producer(c, { lingerMs: 5, ...options });
  try {
    return await producer.run(signal);
  } finally {
    await producer.close();
  }
}

function windowsOf(messages: KafkaMessage[]): Window[] {
  return messages.map((m) => {
    const w = parseWindow(m.value!);
    expect(m.key?.toString()).toBe(w.streamId);
    expect(m.headers?.['seqae-id']?.toString()).toBe(windowId(w));
    return w;
  });
}

async function queueOf<T>(c: SeqaeConfig, name: string, fn: (q: Queue) => Promise<T>): Promise<T> {
  const connection = createRedis(c, { bullmq: true });
  const queue = new Queue(name, { connection, prefix: c.queues.prefix });
  try {
    return await fn(queue);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

describe('a NAB file', () => {
  it('gives exactly rows - nIn + 1 windows on the topic, in order, each valid', async () => {
    const c = await setup('nab-kafka');
    const registry = new Registry();
    const stats = await produce(c, {
      source: `csv:${NAB}`,
      sinks: ['kafka'],
      windows: { nIn: 30 },
      registry,
    });
    expect(stats.sent).toEqual({ kafka: NAB_ROWS - 29 });
    const windows = windowsOf(await readTopic(c, c.topics.windows));
    expect(windows).toHaveLength(NAB_ROWS - 30 + 1);
    expect(windows.map((w) => w.seq)).toEqual(
      Array.from({ length: NAB_ROWS - 29 }, (_, i) => i + 29),
    );
    const rows = readFileSync(NAB, 'utf8').trim().split('\n').slice(1);
    const values = rows.map((r) => Number(r.split(',')[1]));
    windows.forEach((w, i) => {
      expect(w.streamId).toBe('speed_7578');
      expect(w.values).toEqual(values.slice(i, i + 30).map((v) => [v]));
    });
    expect(windows.map((w) => w.end)).toEqual(
      rows.slice(29).map((r) => parseTimestamp(r.split(',')[0]!)),
    );
    expect(await registry.metrics()).toContain(
      `seqae_producer_windows_total{sink="kafka"} ${NAB_ROWS - 29}`,
    );
  });

  it('creates as many BullMQ jobs, and none more when run twice; training requests too', async () => {
    const c = await setup('nab-bullmq');
    const opts: ProduceOptions = {
      source: `csv:${NAB}`,
      sinks: ['bullmq'],
      windows: { nIn: 30 },
      train: { windows: 50 },
      deadLetters: false,
    };
    const first = await produce(c, opts);
    expect(first.sent).toEqual({ bullmq: NAB_ROWS - 29 });
    const count = () =>
      queueOf(c, c.queues.infer, (q) =>
        q.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'),
      );
    expect(await count()).toBe(NAB_ROWS - 29);
    await produce(c, opts);
    expect(await count()).toBe(NAB_ROWS - 29);
    const job = await queueOf(c, c.queues.infer, (q) => q.getJob('speed_7578@29'));
    expect(parseWindow(job!.data).values).toHaveLength(30);
    const train = await queueOf(c, c.queues.train, (q) => q.getJobs(['waiting']));
    expect(train).toHaveLength(1);
    // The worker's job: the training of the model's next (first) version.
    expect(train[0]!.id).toBe('train@speed_7578@v1');
    expect(train[0]!.data).toMatchObject({
      modelId: 'speed_7578',
      streamId: 'speed_7578',
      reason: 'request',
    });
    expect(train[0]!.data.windows).toHaveLength(50);
  });
});

describe('bulk infer jobs', () => {
  it('sends the windows as bulk jobs of at most --infer-bulk windows, each window once', async () => {
    const c = await setup('nab-bulk');
    c.producer.inferBulk = 100;
    const stats = await produce(c, {
      source: `csv:${NAB}`,
      sinks: ['bullmq'],
      windows: { nIn: 30 },
      deadLetters: false,
    });
    expect(stats.sent).toEqual({ bullmq: NAB_ROWS - 29 });
    const jobs = await queueOf(c, c.queues.infer, (q) => q.getJobs(['waiting'], 0, -1, true));
    expect(new Set(jobs.map((j) => j.name))).toEqual(new Set(['windows']));
    expect(Math.max(...jobs.map((j) => j.data.windows.length))).toBe(100);
    const seqs = jobs.flatMap((j) => (j.data.windows as Window[]).map((w) => w.seq));
    expect(seqs).toEqual(Array.from({ length: NAB_ROWS - 29 }, (_, i) => i + 29));
  });
});

describe('backpressure', () => {
  it('stops adding at the waiting-job ceiling and goes on as the queue drains', async () => {
    const c = await setup('ceiling');
    c.producer.batch = 20;
    c.producer.maxWaiting = 50;
    const registry = new Registry();
    const run = produce(c, {
      source: 'synthetic:sine?length=300',
      sinks: ['bullmq'],
      windows: { nIn: 5 },
      deadLetters: false,
      registry,
    });
    const waiting = () => queueOf(c, c.queues.infer, (q) => q.getWaitingCount());
    await expect.poll(waiting, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(50);
    for (let i = 0; i < 10; i++) {
      expect(await waiting()).toBeLessThan(50 + 20); // the ceiling, overshot by one batch at most
      await new Promise((r) => setTimeout(r, 100));
    }
    const connection = createRedis(c, { bullmq: true });
    const worker = new Worker(c.queues.infer, async () => 'done', {
      connection,
      prefix: c.queues.prefix,
      concurrency: 10,
    });
    try {
      const stats = await run;
      expect(stats.sent).toEqual({ bullmq: 296 });
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const counts = await queueOf(c, c.queues.infer, (q) =>
      q.getJobCounts('waiting', 'active', 'completed'),
    );
    expect(counts.waiting + counts.active + counts.completed).toBe(296);
    expect(await registry.metrics()).toMatch(
      /seqae_producer_backpressure_seconds_total\{sink="bullmq"\} [1-9.]/,
    );
  });
});

describe('bad rows', () => {
  it('go to the DLQ with their reason and bytes, and no good window is lost or doubled', async () => {
    const c = await setup('bad-rows');
    const dir = mkdtempSync(join(tmpdir(), 'seqae-'));
    const rows = readFileSync(NAB, 'utf8').trim().split('\n').slice(0, 201);
    const bad: [number, string, string][] = [
      [10, '2015-09-08 20:00:00,7x3', 'bad_number'],
      [50, '2015-09-09 01:00:00,62,9', 'column_count'],
      [51, '2015-09-09 01:00:00,NaN', 'non_finite'],
      [120, '2015-09-09 09:00:00,Infinity', 'non_finite'],
      [150, 'yesterday,55', 'bad_timestamp'],
      [170, `2015-09-09 12:00:00,${'1'.repeat(300)}`, 'oversized'],
    ];
    const lines = [...rows];
    for (const [at, line] of bad) lines.splice(at, 0, line); // ascending: each lands at its index
    const path = join(dir, 'dirty.csv');
    writeFileSync(path, lines.join('\n'));
    c.producer.maxLineBytes = 256;
    const stats = await produce(c, {
      source: `csv:${path}`,
      sinks: ['kafka'],
      windows: { nIn: 10 },
    });
    expect(stats.readings).toBe(200);
    const windows = windowsOf(await readTopic(c, c.topics.windows));
    expect(windows).toHaveLength(200 - 10 + 1);
    const values = rows.slice(1).map((r) => Number(r.split(',')[1]));
    windows.forEach((w, i) => expect(w.values.flat()).toEqual(values.slice(i, i + 10)));
    const letters = (await readTopic(c, c.topics.dlq)).map((m) => parseDlq(m.value!));
    expect(letters.map((l) => l.reason)).toEqual(bad.map(([, , reason]) => reason));
    letters.forEach((l, k) => {
      expect(l.source).toBe(`csv:${path}#L${bad[k]![0] + 1}`);
      const original = dlqOriginal(l).toString();
      expect(bad[k]![1].startsWith(original)).toBe(true);
      expect(original.length).toBe(Math.min(bad[k]![1].length, 256));
    });
  });
});

describe('the readings topic', () => {
  it('turns readings published by a plain kafkajs client into windows, and resumes after a restart', async () => {
    const c = await setup('readings', 2);
    const kafka = createKafka(c);
    const producer = kafka.producer();
    await producer.connect();
    const publish = async (from: number, to: number) => {
      const messages = [];
      for (let i = from; i < to; i++)
        for (const s of ['pump-1', 'pump-2', 'pump-3'])
          messages.push({
            key: s,
            value: JSON.stringify({ ts: 1_700_000_000_000 + i * 1000, values: [i, -i] }),
          });
      messages.splice(7, 0, { key: 'pump-1', value: '{"ts": 1, "values": [1, "NaN"]}' });
      await producer.send({ topic: c.topics.readings, messages });
    };
    const opts: ProduceOptions = {
      source: 'kafka',
      sinks: ['kafka'],
      windows: { nIn: 5 },
      idleExitMs: 4000,
      groupId: `${c.topics.readings}.producers`,
    };
    try {
      await publish(0, 40);
      const first = await produce(c, opts);
      expect(first.readings).toBe(120);
      expect(first.rejected).toEqual({ non_finite: 1 });
      await publish(40, 60); // a new process picks up where the group committed, open windows included
      const second = await produce(c, opts);
      expect(second.readings).toBe(60);
    } finally {
      await producer.disconnect();
    }
    const windows = windowsOf(await readTopic(c, c.topics.windows));
    for (const s of ['pump-1', 'pump-2', 'pump-3']) {
      const mine = windows.filter((w) => w.streamId === s);
      expect(mine.map((w) => w.seq)).toEqual(Array.from({ length: 56 }, (_, i) => i + 4));
      expect(mine.map((w) => w.values[4])).toEqual(
        Array.from({ length: 56 }, (_, i) => [i + 4, -(i + 4)]),
      );
      expect(mine.every((w) => w.step === 1000)).toBe(true);
    }
    expect((await readTopic(c, c.topics.dlq)).map((m) => parseDlq(m.value!).reason)).toEqual([
      'non_finite',
      'non_finite',
    ]);
  });

  it('windows NDJSON readings published with kcat, an external client', async () => {
    const kcat = spawnSync('kcat', ['-V']);
    if (kcat.error) throw new Error('kcat is not installed: apt-get install -y kcat');
    const c = await setup('kcat');
    const lines: string[] = [];
    for (let i = 0; i < 30; i++) {
      lines.push(
        JSON.stringify({
          streamId: 'kc-a',
          ts: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString(),
          value: i,
        }),
      );
      lines.push(
        `kc-b\t${JSON.stringify({ ts: 1_704_067_200_000 + i * 60_000, values: [i / 10] })}`,
      );
    }
    // kcat -K splits key and value at the tab; lines without one have no key (the JSON names the stream)
    const keyed = lines.filter((l) => l.includes('\t'));
    const plain = lines.filter((l) => !l.includes('\t'));
    const broker = c.kafka.brokers.join(',');
    const withInput = (args: string[], input: string) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn('kcat', args, { stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat: ${err}`))));
        p.stdin.end(input);
      });
    await withInput(['-P', '-b', broker, '-t', c.topics.readings], `${plain.join('\n')}\n`);
    await withInput(
      ['-P', '-b', broker, '-t', c.topics.readings, '-K', '\t'],
      `${keyed.join('\n')}\n`,
    );
    const stats = await produce(c, {
      source: `kafka:${c.topics.readings}`,
      sinks: ['kafka'],
      windows: { nIn: 10 },
      idleExitMs: 4000,
      groupId: `${c.topics.readings}.kcat`,
    });
    expect(stats.readings).toBe(60);
    const windows = windowsOf(await readTopic(c, c.topics.windows));
    expect(windows.filter((w) => w.streamId === 'kc-a').map((w) => w.values[9]![0])).toEqual(
      Array.from({ length: 21 }, (_, i) => i + 9),
    );
    expect(windows.filter((w) => w.streamId === 'kc-b')).toHaveLength(21);
    expect(windows.find((w) => w.streamId === 'kc-a')!.step).toBe(60_000);
  });
});

describe('seqae produce', () => {
  const cli = (c: SeqaeConfig, args: string[]) =>
    spawn(process.execPath, ['bin/seqae.js', 'produce', ...args], {
      env: {
        ...process.env,
        REDIS_URL: c.redis.url,
        KAFKA_BROKERS: c.kafka.brokers.join(','),
        SEQAE_TOPIC_PREFIX: c.topics.windows.replace(/windows$/, ''),
        SEQAE_QUEUE_PREFIX: c.queues.infer.replace(/infer$/, ''),
        SEQAE_BULLMQ_KEY_PREFIX: c.queues.prefix,
        SEQAE_KEY_PREFIX: c.redis.keyPrefix,
        SEQAE_LOG_LEVEL: 'warn',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  const finish = (p: ReturnType<typeof cli>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      let stdout = '';
      let stderr = '';
      p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('sends NDJSON from stdin to both sinks and prints a one-line summary', async () => {
    const c = await setup('cli-ndjson');
    const p = cli(c, [
      '--source',
      'ndjson:-',
      '--stream',
      'cli-1',
      '--window',
      '4',
      '--to',
      'kafka,bullmq',
      '--no-http',
    ]);
    const input = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ ts: i * 1000, value: i }),
    ).join('\n');
    p.stdin!.end(`${input}\n{"ts": 99, "value": [}\n`);
    const { code, stdout, stderr } = await finish(p);
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim());
    expect(summary).toMatchObject({
      readings: 20,
      windows: 17,
      sent: { kafka: 17, bullmq: 17 },
      rejected: { bad_json: 1 },
      deadLetters: 1,
    });
    expect(windowsOf(await readTopic(c, c.topics.windows))).toHaveLength(17);
    expect(await queueOf(c, c.queues.infer, (q) => q.getWaitingCount())).toBe(17);
  });

  it('stops on SIGTERM: sends what it cut and exits 0', async () => {
    const c = await setup('cli-sigterm');
    const p = cli(c, [
      '--source',
      'synthetic:sine?streams=2&length=0',
      '--speed',
      '1000',
      '--window',
      '5',
      '--no-http',
    ]);
    const done = finish(p);
    await expect
      .poll(
        async () =>
          (await withKafkaAdmin(c, (a) => a.fetchTopicOffsets(c.topics.windows)))[0]!.high,
        { timeout: 60_000 },
      )
      .not.toBe('0');
    p.kill('SIGTERM');
    const { code, stdout, stderr } = await done;
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim());
    expect(summary.stopped).toBe(true);
    expect(summary.sent.kafka).toBe(summary.windows);
    expect(windowsOf(await readTopic(c, c.topics.windows))).toHaveLength(summary.windows);
  });

  it('refuses a bad source spec with one line and exit code 2', async () => {
    const c = config('cli-bad');
    const { code, stderr } = await finish(cli(c, ['--source', 'synthetic:square', '--no-http']));
    expect(code).toBe(2);
    expect(stderr).toMatch(/synthetic shape "square"/);
  });
});
