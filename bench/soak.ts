/**
 * Soak: many streams at a steady rate for minutes through a `seqae produce` process (the synthetic
 * source paced in real time), Kafka and two `seqae worker` processes sharing one model
 * (SEQAE_MODEL_GROUP), trained at the start from the first windows. Prints JSON lines: `start` once
 * the model scores (RSS of every process, the workers' live tfjs tensors), `progress` each minute,
 * and `end` after the producer stopped and the outputs caught up: windows in (the producer's
 * count), distinct window ids out per output topic, windows missing, end-to-end latency p50/p99 (a
 * window's `end` to its reconstruction received here, over the windows ending after `start`), RSS
 * and tensors again.
 * Usage: npm run bench:soak -- [--streams 200] [--rate 1] [--minutes 10] [--partitions 4]
 *        [--epochs 5]    (--rate: windows per second per stream)
 * Needs Redis and Kafka (npm run services:up; REDIS_URL / KAFKA_BROKERS); its topics and keys carry
 * a prefix of their own and are deleted at the end; every process it starts is stopped by pid.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { decodeOutput, OUTPUT_HEADERS } from '../src/contracts/outputs.js';
import { ModelRegistry } from '../src/model-registry/index.js';
import { createKafka } from '../src/transport/kafka.js';
import { createRedis } from '../src/transport/redis.js';
import {
  childPids,
  freePort,
  spawnChild,
  stopChild,
  type Child,
} from '../test/support/processes.js';
import { unlinkMatching } from '../test/support/redis.js';
import { waitFor } from '../test/support/wait.js';

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '200' },
    rate: { type: 'string', default: '1' },
    minutes: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '4' },
    epochs: { type: 'string', default: '5' },
  },
});
const streams = Number(args.streams);
const rate = Number(args.rate);
const minutes = Number(args.minutes);
const stepMs = Math.max(1, Math.round(1000 / rate));
const MODEL = 'soak';
const OUTPUTS = ['reconstructions', 'predictions', 'embeddings', 'anomalies'] as const;

const tag = `soak${randomBytes(3).toString('hex')}`;
const env: Record<string, string> = {
  SEQAE_TOPIC_PREFIX: `${tag}.`,
  SEQAE_QUEUE_PREFIX: `${tag}-`,
  SEQAE_BULLMQ_KEY_PREFIX: `bull-${tag}`,
  SEQAE_KEY_PREFIX: tag,
  SEQAE_MODEL_GROUP: MODEL,
  SEQAE_EPOCHS: args.epochs!,
  SEQAE_ROLES: 'train,stream',
  SEQAE_LOG_LEVEL: 'warn',
};
const config = loadConfig(process.env, env);
const print = (line: object) =>
  process.stdout.write(`${JSON.stringify({ bench: 'soak', ...line })}\n`);
const seconds = (ms: number) => Math.round(ms / 100) / 10;

function cli(name: string, command: string, port: number, ...rest: string[]): Child {
  return spawnChild(
    name,
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', command, ...rest],
    {
      ...process.env,
      ...env,
      SEQAE_HTTP_PORT: String(port),
    },
  );
}

/** Whether `pid` is a process this run started (its environment carries the run's tag). */
function ours(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`SEQAE_KEY_PREFIX=${tag}\0`);
  } catch {
    return false; // gone
  }
}

/** Resident set size of `pid` in MiB, from /proc (Linux). */
function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined; // gone
  }
}

/** The sum of `name` over its label sets in the /metrics of the process on `port`. */
async function metric(port: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? undefined
    : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function main() {
  const admin = createKafka(config).admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: Object.entries(config.topics).map(([name, topic]) => ({
      topic,
      numPartitions: name === 'windows' || name === 'readings' ? Number(args.partitions) : 1,
    })),
  });

  // Outputs, from the beginning: distinct window ids per topic, latency of reconstructions.
  const ids = new Map<string, Set<string>>(OUTPUTS.map((o) => [config.topics[o], new Set()]));
  const latencies: number[] = [];
  let measureFrom = Infinity;
  const consumer = createKafka(config, { clientId: `${tag}-collector` }).consumer({
    groupId: `${tag}-collector`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [...ids.keys()], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      const seen = ids.get(batch.topic)!;
      for (const m of batch.messages) {
        seen.add(String(m.headers?.[OUTPUT_HEADERS.id]));
        if (batch.topic !== config.topics.reconstructions) continue;
        const end = decodeOutput(m.value).end as number;
        if (end >= measureFrom) latencies.push(now - end);
      }
    },
  });

  const ports = [await freePort(), await freePort()];
  const workers = ports.map((port, i) => cli(`worker-${i + 1}`, 'worker', port));
  const producerPort = await freePort();
  const trainers = new Set<number>();
  const everyPid = () => {
    for (const w of workers) for (const pid of childPids(w.proc.pid!)) trainers.add(pid);
  };
  const exitedEarly = () => {
    for (const c of workers)
      if (c.proc.exitCode !== null) throw new Error(`${c.log.slice(-20).join('\n')}`);
  };
  let producer: Child | undefined;
  const snapshot = async () => ({
    rssMiB: {
      ...Object.fromEntries(workers.map((w, i) => [`worker-${i + 1}`, rssMiB(w.proc.pid!)])),
      producer: producer && rssMiB(producer.proc.pid!),
    },
    tfjsTensors: Object.fromEntries(
      await Promise.all(
        ports.map(async (p, i) => [`worker-${i + 1}`, await metric(p, 'seqae_tfjs_tensors')]),
      ),
    ),
  });

  const redis = createRedis(config);
  const registry = new ModelRegistry(redis, {
    prefix: config.redis.keyPrefix,
    keep: config.worker.modelKeep,
  });
  try {
    for (const port of ports)
      await waitFor('the workers', async () => {
        exitedEarly();
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
      });
    const t0 = Date.now();
    producer = cli(
      'producer',
      'produce',
      producerPort,
      ...['--source', `synthetic:sine?streams=${streams}&length=0&step=${stepMs}&start=${t0}`],
      ...['--speed', '1', '--to', 'kafka', '--no-progress'],
    );
    const durationMs = minutes * 60_000;
    const stopAt = t0 + durationMs;

    await waitFor(
      'the first model version',
      async () => (exitedEarly(), (await registry.versions(MODEL)).length > 0),
      Math.max(durationMs, 600_000), // training starts after SEQAE_WARMUP_WINDOWS windows
      1000,
    );
    measureFrom = Date.now();
    everyPid();
    print({
      phase: 'start',
      streams,
      rate,
      minutes,
      afterSeconds: seconds(measureFrom - t0),
      ...(await snapshot()),
    });

    while (Date.now() < stopAt) {
      await new Promise((r) => setTimeout(r, Math.min(60_000, stopAt - Date.now())));
      exitedEarly();
      everyPid();
      print({
        phase: 'progress',
        seconds: seconds(Date.now() - t0),
        windowsIn: await metric(producerPort, 'seqae_producer_windows_total'),
        reconstructions: ids.get(config.topics.reconstructions)!.size,
        ...(await snapshot()),
      });
    }

    const windowsIn = await metric(producerPort, 'seqae_producer_windows_total').catch(
      () => undefined,
    );
    expectExit(await stopChild(producer, 60_000), producer);
    const line = producer.log.find((l) => l.includes('"sent"'));
    // The producer's own count of windows Kafka acknowledged, from its summary line.
    const sent = line
      ? (JSON.parse(line.slice(line.indexOf(' ') + 1)) as { sent: { kafka: number } }).sent.kafka
      : (windowsIn ?? 0);
    const drainStart = Date.now();
    await waitFor(
      'the outputs to catch up',
      () => (exitedEarly(), [...ids.values()].every((s) => s.size >= sent)),
      180_000,
      1000,
    ).catch(() => undefined); // reported as missing below
    const sorted = latencies.sort((a, b) => a - b);
    print({
      phase: 'end',
      streams,
      rate,
      minutes,
      windowsIn: sent,
      outputs: Object.fromEntries(OUTPUTS.map((o) => [o, ids.get(config.topics[o])!.size])),
      missing: Math.max(...[...ids.values()].map((s) => sent - s.size)),
      drainSeconds: seconds(Date.now() - drainStart),
      latencyMs: {
        windows: sorted.length,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
      },
      ...(await snapshot()),
    });
  } finally {
    await Promise.all([...workers, producer].map((c) => stopChild(c, 30_000)));
    // A training child its worker did not end: still ours only if it carries this run's tag.
    for (const pid of trainers) if (ours(pid)) process.kill(pid, 'SIGKILL');
    await consumer.disconnect();

    await admin.deleteTopics({ topics: Object.values(config.topics) }).catch(() => undefined);
    await admin.disconnect();
    await unlinkMatching(redis, [`${config.queues.prefix}:*`, `${config.redis.keyPrefix}:*`]);
    redis.disconnect();
  }
}

function expectExit(code: number | string | undefined, child: Child) {
  if (code !== 0)
    throw new Error(`producer exited with ${code}:\n${child.log.slice(-20).join('\n')}`);
}

await main();
