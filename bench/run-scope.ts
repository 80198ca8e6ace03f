/**
 * Everything one `npm run bench` creates, so that all of it goes at the end, on failure and on Ctrl-C
 * too: names under one per-run prefix (topics, consumer groups, BullMQ queues and keys, registry
 * keys) and the processes it starts, each in its own process group (a worker's training children
 * included), stopped by that group's id.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnGroup, stopGroup } from '../src/lifecycle/child.js';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig, type SeqaeConfig } from '../src/config/index.js';
import { createKafka } from '../src/transport/kafka.js';
import { createRedis } from '../src/transport/redis.js';
import { unlinkMatching } from '../test/support/redis.js';

const root = fileURLToPath(new URL('../', import.meta.url));
/** Output lines kept per child, for the message when it fails. */
const KEPT_LINES = 200;

export interface BenchChild {
  name: string;
  proc: ChildProcess;
  log: string[];
  exited: Promise<number | string>;
}

export class RunScope {
  /** `bench<hex>`: every name this run creates starts with it. */
  readonly tag = `bench${randomBytes(3).toString('hex')}`;
  private readonly children = new Set<BenchChild>();
  /** Clients of this process (consumers, producers) to close before the names go. */
  private readonly clients = new Set<() => Promise<unknown>>();
  private sections = 0;
  /** Set once `close` has begun: nothing new starts after it. */
  private closed = false;

  constructor(private readonly base: NodeJS.ProcessEnv = process.env) {}

  /**
   * The variables of one measurement: its own topics, groups, queues and keys under the run's tag
   * (`bench1a2b3c.s3.windows`, …), quiet logs, then `overrides`.
   */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    if (this.closed) throw new Error('the run is stopping');
    const name = `${this.tag}.s${++this.sections}`;
    const dashed = name.replace('.', '-');
    return {
      REDIS_URL: this.base.REDIS_URL ?? 'redis://127.0.0.1:6379',
      KAFKA_BROKERS: this.base.KAFKA_BROKERS ?? '127.0.0.1:9092',
      KAFKA_CLIENT_ID: dashed,
      SEQAE_TOPIC_PREFIX: `${name}.`,
      SEQAE_QUEUE_PREFIX: `${dashed}-`,
      SEQAE_BULLMQ_KEY_PREFIX: `bull-${dashed}`,
      SEQAE_KEY_PREFIX: name,
      SEQAE_LOG_LEVEL: 'warn',
      ...overrides,
    };
  }

  config(env: Record<string, string>): SeqaeConfig {
    return loadConfig({}, env);
  }

  /**
   * `node bin/seqae.js worker` with `env` (over this process's), in its own process group; or, with
   * `script`, that TypeScript file in its place.
   */
  spawnWorker(name: string, env: Record<string, string>, script?: string): BenchChild {
    if (this.closed) throw new Error('the run is stopping');
    // SEQAE_BENCH_CPU_PROF=<dir>: each worker writes a V8 CPU profile there when it stops.
    const prof = this.base.SEQAE_BENCH_CPU_PROF;
    const flags = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}/${name}-${Date.now()}`] : [];
    const started = spawnGroup(
      name,
      process.execPath,
      [...flags, ...(script ? ['--import', 'tsx', script] : ['bin/seqae.js', 'worker'])],
      {
        cwd: root,
        env: { ...process.env, ...env },
        keep: KEPT_LINES,
        tag: `[${name}] `,
      },
    );
    const child = { name, proc: started.proc, log: started.lines, exited: started.exited };
    this.children.add(child);
    return child;
  }

  /** SIGTERM to the child's process group, SIGKILL after `graceMs`. */
  async stop(child: BenchChild, graceMs = 15_000): Promise<void> {
    if (child.proc.pid !== undefined)
      await stopGroup({ ...child, lines: child.log }, graceMs, 'group');
    this.children.delete(child);
  }

  /**
   * Registers a client of this process to close at the end unless `release`d first: a consumer still
   * running would create a deleted topic again.
   */
  track(close: () => Promise<unknown>): { release: () => Promise<void> } {
    if (this.closed) throw new Error('the run is stopping');
    this.clients.add(close);
    return {
      release: async () => {
        if (this.clients.delete(close)) await close();
      },
    };
  }

  /**
   * Between measurements, with nothing of the run left running: deletes the run's topics and groups
   * so far, so that the broker's work for a measurement's partitions does not weigh on the next
   * ones (its CPU per window grew over a run that kept them). False when something still runs.
   */
  async sweep(): Promise<boolean> {
    if (this.closed || this.children.size > 0 || this.clients.size > 0) return false;
    await this.dropKafka(this.runConfig());
    return true;
  }

  /** Stops every client and child still running, then deletes every topic, group and key of the run. */
  async close(): Promise<void> {
    const config = this.runConfig();
    this.closed = true;
    await Promise.allSettled([...this.clients].map((close) => close()));
    this.clients.clear();
    // A child being spawned as the stop began joins the set late: loop until none is left.
    while (this.children.size > 0)
      await Promise.all([...this.children].map((c) => this.stop(c, 5000)));
    await this.dropKafka(config);
    const redis = createRedis(config, { name: `${this.tag}-cleanup` });
    try {
      await unlinkMatching(redis, [`${this.tag}*`, `bull-${this.tag}*`]);
    } finally {
      redis.disconnect();
    }
  }

  /** A configuration whose names cover the whole run (every measurement's topics, groups, keys). */
  private runConfig(): SeqaeConfig {
    return this.config({ ...this.env(), SEQAE_TOPIC_PREFIX: `${this.tag}.` });
  }

  /** Deletes every topic and consumer group of the run. */
  private async dropKafka(config: SeqaeConfig): Promise<void> {
    const admin = createKafka(config, { clientId: `${this.tag}-cleanup` }).admin();
    await admin.connect();
    try {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(this.tag));
      if (topics.length > 0) await admin.deleteTopics({ topics });
      const { groups } = await admin.listGroups();
      const mine = groups.map((g) => g.groupId).filter((g) => g.startsWith(this.tag));
      if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  }

  /** The last output lines of every child (for a failure message). */
  childLogs(): string[] {
    return [...this.children].flatMap((c) => c.log.slice(-20));
  }
}
