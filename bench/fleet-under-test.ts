/**
 * seqae as a user runs it, for one measurement: worker processes (`node bin/seqae.js worker`) under
 * the measurement's own names, the producer (in this process) feeding them a synthetic fleet, and a
 * plain consumer counting the anomaly outputs as they arrive (one per scored window, sent with the
 * other three outputs in one acknowledged request).
 */
import type { SeqaeConfig } from '../src/config/index.js';
import { parseWindowId } from '../src/contracts/window.js';
import { Producer, type SinkName } from '../src/producer/producer.js';
import { createKafka } from '../src/transport/kafka.js';
import { freePort } from '../test/support/processes.js';
import { WINDOW } from './bench-model.js';
import { cpuMeter } from './cpu.js';
import type { BenchChild, RunScope } from './run-scope.js';
import { waitUntil } from './wait.js';

/** The warm-up before each measurement: models loaded, engines compiled, JIT warm. */
export const WARMUP = { prefix: 'warmup-', streams: 10, windows: 1000 };

/** Epoch ms of the first synthetic reading; windows of a stream end `seq * step` after it. */
const START = 1_700_000_000_000;

export interface Arrival {
  at: number;
  streamId: string;
  seq: number;
}

export interface FleetRun {
  /** Wall-clock ms from the producer's start until `until` held. */
  ms: number;
  /** Epoch ms of the producer's start. */
  t0: number;
  /** Wall time at which a reading at `START + t` was due (paced runs): `origin + t`. */
  origin: number;
  windows: number;
  /** Its streams' name prefix and ms between their readings. */
  prefix: string;
  step: number;
  /** CPU seconds of each process over the run (bench, worker-<i>, broker, redis, total). */
  cpu: Record<string, number>;
  /** Windows per model call in the workers over the run (seqae_inference_batch_size), on average. */
  modelBatch: number;
}

export class FleetUnderTest {
  /** Anomaly outputs seen. */
  count = 0;
  readonly arrivals: Arrival[] = [];
  readonly streams = new Set<string>();

  private constructor(
    readonly scope: RunScope,
    readonly env: Record<string, string>,
    readonly config: SeqaeConfig,
    readonly workers: BenchChild[],
    private readonly ports: number[],
    private readonly stopCollector: () => Promise<void>,
    private readonly kafka: ReturnType<typeof createKafka>,
  ) {}

  /**
   * Starts `workers` worker processes with `env` and waits until each is ready and, for stream
   * workers, until the group is stable with all of them; then starts counting outputs. `before`
   * runs once the names are known and before any worker starts (publish models, say). `script`: a
   * TypeScript file to run in each worker's place (it answers `/readyz` on SEQAE_HTTP_PORT and joins
   * the stream group as a worker does). `collect: false`: no collector of the anomalies topic (the
   * caller counts another way; `count` stays 0).
   */
  static async start(
    scope: RunScope,
    overrides: Record<string, string>,
    {
      workers = 1,
      before,
      script,
      collect = true,
    }: {
      workers?: number;
      before?: (c: SeqaeConfig) => Promise<void>;
      script?: string;
      collect?: boolean;
    } = {},
  ): Promise<FleetUnderTest> {
    const env = scope.env(overrides);
    const config = scope.config(env);
    await before?.(config);
    const children: BenchChild[] = [];
    const ports: number[] = [];
    for (let i = 0; i < workers; i++) {
      const port = await freePort();
      const child = scope.spawnWorker(
        `worker-${i + 1}`,
        { ...env, SEQAE_HTTP_PORT: String(port) },
        script,
      );
      children.push(child);
      ports.push(port);
      await waitUntil(
        `worker ${i + 1} ready`,
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
        120_000,
        () => exitedWith(child),
      );
    }
    const kafka = createKafka(config, { clientId: `${config.kafka.clientId}-bench` });
    if (script || config.worker.roles.includes('stream')) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await waitUntil(
          `${workers} members in the stream group`,
          async () => {
            const { groups } = await admin.describeGroups([config.worker.groupId]);
            return groups[0]?.state === 'Stable' && groups[0].members.length === workers;
          },
          120_000,
          () => children.map(exitedWith).find(Boolean),
        );
      } finally {
        await admin.disconnect();
      }
    }
    if (!collect)
      return new FleetUnderTest(scope, env, config, children, ports, async () => {}, kafka);
    const consumer = kafka.consumer({
      groupId: `${env.SEQAE_TOPIC_PREFIX}collector`,
      maxWaitTimeInMs: 50,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: config.topics.anomalies, fromBeginning: true });
    const collector = scope.track(() => consumer.disconnect());
    const fleet = new FleetUnderTest(scope, env, config, children, ports, collector.release, kafka);
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const at = Date.now();
        for (const m of batch.messages) {
          const id = parseWindowId(String(m.headers?.['seqae-id'] ?? ''));
          if (!id) continue;
          fleet.arrivals.push({ at, ...id });
          fleet.streams.add(id.streamId);
        }
        fleet.count += batch.messages.length;
      },
    });
    return fleet;
  }

  /**
   * Produces `windows` windows (at least) of `streams` synthetic streams named `<prefix><i>` and
   * waits until `until` holds (default: every window produced so far has its output). `rate`:
   * paced at that many windows/s (readings replayed in real time, each stream a reading every
   * `streams / rate` s); absent: as fast as the producer goes.
   */
  async produce(o: {
    prefix: string;
    streams: number;
    windows: number;
    rate?: number;
    sink?: SinkName;
    /** Windows per infer job (SEQAE_INFER_BULK) with the bullmq sink. */
    inferBulk?: number;
    until?: () => boolean;
    timeoutMs?: number;
  }): Promise<FleetRun> {
    const perStream = Math.max(1, Math.ceil(o.windows / o.streams));
    const step = o.rate ? Math.max(1, Math.round((o.streams * 1000) / o.rate)) : 1000;
    const spec = new URLSearchParams({
      streams: String(o.streams),
      length: String(perStream + WINDOW - 1),
      noise: '0.05',
      step: String(step),
      start: String(START),
      prefix: o.prefix,
    });
    const config = o.inferBulk
      ? { ...this.config, producer: { ...this.config.producer, inferBulk: o.inferBulk } }
      : this.config;
    const producer = new Producer(config, {
      source: `synthetic:sine?${spec}`,
      sinks: [o.sink ?? 'kafka'],
      windows: { nIn: WINDOW },
      deadLetters: false,
      speed: o.rate ? 1 : undefined,
    });
    // The pacer fixes its origin at the first reading; the earliest acknowledgement bounds it.
    let origin = Infinity;
    producer.pipeline.on('sent', (_sink, windows) => {
      const now = Date.now();
      for (const w of windows) origin = Math.min(origin, now - (w.end - START));
    });
    const expected = this.count + perStream * o.streams;
    const t0 = Date.now();
    const cpu = cpuMeter(this.workers.map((w) => ({ name: w.name, pid: w.proc.pid })));
    const batches0 = await this.modelCalls();
    const running = this.scope.track(async () => {
      producer.stop();
      await producer.close();
    });
    try {
      await producer.run();
    } finally {
      await running.release();
    }
    await waitUntil(
      'the outputs of every window',
      o.until ?? (() => this.count >= expected),
      o.timeoutMs ?? 300_000,
      () => this.workers.map(exitedWith).find(Boolean),
    );
    const ms = Date.now() - t0;
    const used = cpu();
    const batches = await this.modelCalls();
    const modelBatch = (batches.sum - batches0.sum) / Math.max(1, batches.count - batches0.count);
    const windows = perStream * o.streams;
    return { ms, t0, origin, windows, prefix: o.prefix, step, cpu: used, modelBatch };
  }

  /** The workers' model calls so far and the windows in them (their /metrics). */
  async modelCalls(): Promise<{ sum: number; count: number }> {
    let sum = 0;
    let count = 0;
    for (const port of this.ports) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      sum += Number(/^seqae_inference_batch_size_sum(?:\{[^}]*\})? (\S+)/m.exec(text)?.[1] ?? 0);
      count += Number(
        /^seqae_inference_batch_size_count(?:\{[^}]*\})? (\S+)/m.exec(text)?.[1] ?? 0,
      );
    }
    return { sum, count };
  }

  /** Records on the anomalies topic (the sum of its partitions' end offsets): one per window scored. */
  async outputsOnTopic(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.config.topics.anomalies);
      return offsets.reduce((sum, p) => sum + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  }

  /** Latencies (ms) of a paced run's outputs: arrival − the due time of the window's last reading. */
  latencies(run: FleetRun): number[] {
    return this.arrivals
      .filter((a) => a.streamId.startsWith(run.prefix))
      .map((a) => a.at - (run.origin + a.seq * run.step));
  }

  async stop(): Promise<void> {
    await this.stopCollector().catch(() => undefined);
    await Promise.all(this.workers.map((w) => this.scope.stop(w)));
  }
}

function exitedWith(child: BenchChild): string | undefined {
  const { exitCode, signalCode } = child.proc;
  if (exitCode === null && signalCode === null) return undefined;
  return `${child.name} exited (${exitCode ?? signalCode}):\n${child.log.slice(-15).join('\n')}`;
}
