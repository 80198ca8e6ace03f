import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { repoRoot, servicesRelease, servicesUp } from '../services/index.js';
import type { SeqaeConfig } from '../config/index.js';
import {
  parseSyntheticSpec,
  streamAnomalies,
  type SyntheticSpec,
} from '../producer/sources/synthetic.js';
import { createKafka } from '../transport/kafka.js';
import { forgetUnfinished } from './cleanup.js';
import { listen, type DemoListener } from './events.js';
import { freePorts, lastReason, startChild, type DemoChild } from './fleet.js';
import { CATCH_WITHIN, DemoTracker, type DemoEvent } from './tracker.js';
import { plainView, terminalView, type DemoView } from './view.js';

/**
 * `seqae demo`: Redis and Kafka (started when they do not answer), a worker (train and stream roles)
 * and a synthetic fleet producer, with a live view of every stream until Ctrl-C or `duration`, then
 * the run's report. Everything it starts it stops; the streams carry the run's prefix
 * (`demo-<run>/sensor-<i>`), so the view and the report cover this run alone.
 */
export interface DemoOptions {
  streams: number;
  /** Streams with injected anomalies (the first ones): two spikes every 1000 readings each. */
  anomalies: number;
  /** Readings a second per stream. */
  speed: number;
  warmupWindows: number;
  epochs: number;
  /** Readings per window. */
  window: number;
  /** Stop after this many seconds; undefined: at Ctrl-C. */
  durationSec?: number;
  /** Where the report goes; undefined: none. Relative to the run directory when not absolute. */
  report?: string;
}

export const DEMO_DEFAULTS = {
  streams: 20,
  speed: 20,
  // Small enough for a 2-core machine to score its first streams within a few minutes: 200 windows
  // take 10 s at 20 readings a second; a 32-unit model trains 20 epochs on them in seconds, and the
  // streams after the first fine-tune their neighbour's model (SEQAE_WARM_START).
  warmupWindows: 200,
  epochs: 20,
  window: 16,
  units: 32,
  warmStartEpochs: 5,
  learningRate: 0.005,
} as const;

/** Readings between two injected anomalies of an anomalous stream: 2 per endless block of 1000. */
const ANOMALIES_PER_BLOCK = 2;
const BLOCK = 1000;

export interface DemoIo {
  out: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /**
   * A second Ctrl-C while nothing of the demo's own runs (services still starting, say): the CLI
   * exits at once with this code. Without it the demo just goes on stopping.
   */
  exitNow?: (code: number) => void;
}

export async function runDemo(
  config: SeqaeConfig,
  options: DemoOptions,
  io: DemoIo = { out: process.stdout, env: process.env },
): Promise<number> {
  const run = new DemoRun(config, options, io);
  const onSignal = (signal: NodeJS.Signals) => run.requestStop(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await run.runUntilStopped();
    run.summarize();
    await run.writeRunReport();
    await run.cleanUp();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return run.failure ? 1 : 0;
}

/** The synthetic fleet's source spec: `streams` sensors named `<prefix>sensor-<i>`, endless. */
function demoSource(options: DemoOptions, prefix: string): string {
  return `mix?${new URLSearchParams({
    streams: String(options.streams),
    length: '0',
    anomalies: String(options.anomalies > 0 ? ANOMALIES_PER_BLOCK : 0),
    anomalous: String(options.anomalies),
    noise: '0.05',
    step: '1000',
    seed: '1',
    prefix: `${prefix}sensor-`,
  })}`;
}

/**
 * The anomalies the producer injects, known in advance from the seeded spec: handed to the tracker a
 * block ahead of the windows seen, and written as labels for the report.
 */
class Injected {
  private blocks = 0;
  highestSeq = 0;

  constructor(
    private readonly spec: SyntheticSpec,
    private readonly anomalous: number,
    private readonly tracker: DemoTracker,
  ) {
    this.upTo(0);
  }

  /** Notes a window's seq; injects the blocks up to one past it. */
  seen(seq: number): void {
    if (seq > this.highestSeq) this.upTo((this.highestSeq = seq));
  }

  private upTo(seq: number): void {
    while (this.blocks * BLOCK <= seq + BLOCK) {
      for (let i = 0; i < Math.min(this.anomalous, this.spec.streams); i++)
        this.tracker.inject(streamAnomalies(this.spec, i, this.blocks));
      this.blocks++;
    }
  }

  /** The injected anomalies up to the highest window seen, as NAB labels keyed by stream id. */
  labels(): Record<string, [string, string][]> {
    const { spec } = this;
    const spans: Record<string, [string, string][]> = {};
    for (let block = 0; block < this.blocks; block++)
      for (let i = 0; i < Math.min(this.anomalous, spec.streams); i++)
        for (const a of streamAnomalies(spec, i, block))
          if (a.index <= this.highestSeq)
            (spans[a.streamId] ??= []).push([
              new Date(a.ts).toISOString(),
              new Date(a.ts + (a.length - 1) * spec.step).toISOString(),
            ]);
    return spans;
  }
}

/** One demo run: its state from start to the report, in the steps runDemo takes. */
class DemoRun {
  readonly started = Date.now();
  readonly runId = `${Date.now().toString(36).slice(-6)}${Math.floor(Math.random() * 36 ** 2)
    .toString(36)
    .padStart(2, '0')}`;
  readonly prefix = `demo-${this.runId}/`;
  // Where the person runs it (the repository for `npm run demo`), not inside an installed package.
  readonly runDir = join(process.cwd(), '.demo', this.runId);
  readonly shownDir: string;
  readonly source: string;
  private readonly tty: boolean;
  private readonly view: DemoView;
  private readonly tracker: DemoTracker;
  private readonly injected: Injected;
  private stopRequested?: string;
  private wake: () => void = () => {};
  private readonly stopped = new Promise<void>((resolve) => (this.wake = resolve));
  private readonly children: DemoChild[] = [];
  private report?: ChildProcess;
  failure?: string;
  private listener?: DemoListener;
  private ownServices = false;
  private readonly servicesOwner = `demo-${process.pid}`;
  private readonly metrics: { name: string; url: string }[] = [];
  private ticker?: NodeJS.Timeout;
  private status?: string;

  constructor(
    private readonly config: SeqaeConfig,
    private readonly options: DemoOptions,
    private readonly io: DemoIo,
  ) {
    mkdirSync(this.runDir, { recursive: true });
    this.shownDir = relative(process.cwd(), this.runDir) || this.runDir;
    this.tty = io.out.isTTY === true;
    this.view = this.tty ? terminalView(io.out, io.env.NO_COLOR === undefined) : plainView(io.out);
    this.source = demoSource(options, this.prefix);
    this.tracker = new DemoTracker({
      prefix: this.prefix,
      window: options.window,
      incidentGap: config.incidentGap,
    });
    this.injected = new Injected(parseSyntheticSpec(this.source), options.anomalies, this.tracker);
  }

  private say(text: string): void {
    this.view.line(`demo: ${text}`);
  }

  private emit = (event: DemoEvent): void => {
    if (event.type === 'window') this.injected.seen(event.seq);
    this.view.notices(event.at - this.started, this.tracker.apply(event));
  };

  requestStop(why: string): void {
    if (this.stopRequested) {
      // A second Ctrl-C: no more waiting for a graceful stop, nor for the report.
      for (const c of this.children) if (c.running()) c.proc.kill('SIGKILL');
      this.report?.kill('SIGKILL');
      // Nothing of its own left to wait for (services still starting, say): go now.
      if (!this.children.some((c) => c.running())) this.io.exitNow?.(130);
      return;
    }
    this.stopRequested = why;
    this.wake();
  }

  private frame(now: string | undefined = this.status): void {
    this.view.frame({
      elapsedMs: Date.now() - this.started,
      rows: this.tracker.rows(Date.now()),
      totals: this.tracker.totals(Date.now()),
      warmupWindows: this.options.warmupWindows,
      runId: this.runId,
      metrics: this.metrics,
      runDir: this.shownDir,
      ...(now ? { status: now } : {}),
    });
  }

  /** Starts everything, waits for Ctrl-C, the duration or a failure, then stops what it started. */
  async runUntilStopped(): Promise<void> {
    try {
      await this.start();
      const { durationSec } = this.options;
      const timer =
        durationSec !== undefined
          ? setTimeout(() => this.requestStop('duration'), durationSec * 1000)
          : undefined;
      await this.stopped;
      if (timer) clearTimeout(timer);
    } catch (err) {
      if (!(err instanceof Stop)) this.failure = (err as Error).message;
    } finally {
      if (this.ticker) clearInterval(this.ticker);
      this.frame('stopping…');
      // Producer first (no more windows), then the worker; each by its pid, SIGKILL after a grace.
      const [producer, worker] = [
        this.children.find((c) => c.name === 'producer'),
        this.children.find((c) => c.name === 'worker'),
      ];
      await producer?.stop(5000);
      await worker?.stop(8000);
      await this.listener?.close();
      this.frame();
      this.view.close();
    }
  }

  /** Services, the view's listener, the worker (until ready), then the producer. */
  private async start(): Promise<void> {
    const { options, config, runId } = this;
    this.say(
      `run ${runId}: ${options.streams} streams (${options.anomalies} with injected anomalies), logs in ${this.shownDir}`,
    );
    const up = await servicesUp({
      owner: this.servicesOwner,
      log: (l) => this.say(`services: ${l}`),
    });
    this.ownServices = up.started.redis || up.started.kafka;
    if (this.stopRequested) throw new Stop();

    const kafka = createKafka(config, { clientId: 'seqae-demo' });
    const workerGroupId = `seqae-demo-${runId}-stream`;
    this.listener = await listen({
      config,
      kafka,
      prefix: this.prefix,
      groupId: `seqae-demo-${runId}-view`,
      workerGroupId,
      emit: this.emit,
    });

    const [workerPort, producerPort] = await freePorts(2, config.http.host);
    const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    this.metrics.push(
      { name: 'worker', url: `http://${host}:${workerPort}/metrics` },
      { name: 'producer', url: `http://${host}:${producerPort}/metrics` },
    );
    this.watch(this.startWorker(workerPort!, workerGroupId));

    this.ticker = setInterval(() => this.frame(), this.tty ? 500 : 1000);
    this.status = `starting the worker (log: ${join(this.shownDir, 'worker.log')})…`;
    this.frame();
    await waitReady(`http://${host}:${workerPort}/readyz`, () => this.stopRequested !== undefined);
    this.status = undefined;
    if (this.stopRequested) throw new Stop(); // runUntilStopped stops what was started

    this.watch(this.startProducer(producerPort!));
    this.say(
      `worker ready; ${options.streams} sensors at ${options.speed} readings/s; metrics ${this.metrics.map((m) => `${m.name} ${m.url}`).join(', ')}`,
    );
  }

  /** A child's variables: the demo's own, its services, and `own`. */
  private childEnv(own: Record<string, string>): NodeJS.ProcessEnv {
    const { env } = this.io;
    return {
      ...env,
      SEQAE_LOG_LEVEL: env.SEQAE_LOG_LEVEL ?? 'info',
      REDIS_URL: this.config.redis.url,
      KAFKA_BROKERS: this.config.kafka.brokers.join(','),
      ...own,
    };
  }

  private startWorker(port: number, groupId: string): DemoChild {
    const { env } = this.io;
    return startChild({
      root: repoRoot,
      name: 'worker',
      args: ['worker', '--roles', 'train,stream'],
      logFile: join(this.runDir, 'worker.log'),
      env: this.childEnv({
        SEQAE_HTTP_PORT: String(port),
        // Its own group, starting at this run's first window (see listen), whatever else shares the topic.
        SEQAE_GROUP_ID: groupId,
        SEQAE_WARMUP_WINDOWS: String(this.options.warmupWindows),
        SEQAE_EPOCHS: String(this.options.epochs),
        SEQAE_UNITS: env.SEQAE_UNITS ?? String(DEMO_DEFAULTS.units),
        SEQAE_LEARNING_RATE: env.SEQAE_LEARNING_RATE ?? String(DEMO_DEFAULTS.learningRate),
        SEQAE_WARM_START_EPOCHS:
          env.SEQAE_WARM_START_EPOCHS ?? String(DEMO_DEFAULTS.warmStartEpochs),
        // Ctrl-C within seconds: a training in progress is handed back rather than waited for.
        SEQAE_SHUTDOWN_TIMEOUT_MS: env.SEQAE_SHUTDOWN_TIMEOUT_MS ?? '4000',
      }),
    });
  }

  private startProducer(port: number): DemoChild {
    const { options } = this;
    return startChild({
      root: repoRoot,
      name: 'producer',
      args: [
        'produce',
        '--source',
        `synthetic:${this.source}`,
        '--window',
        String(options.window),
        '--speed',
        String(options.speed),
        '--to',
        'kafka',
        '--no-progress',
      ],
      logFile: join(this.runDir, 'producer.log'),
      env: this.childEnv({ SEQAE_HTTP_PORT: String(port) }),
    });
  }

  /** Keeps the child for the stop; its exit before a stop was asked for stops the demo. */
  private watch(c: DemoChild): void {
    this.children.push(c);
    void c.exited.then((code) => {
      if (this.stopRequested) return;
      this.failure = `${c.name} exited (${code}): ${lastReason(c.logFile)}`;
      this.requestStop('failure');
    });
  }

  /** The closing lines: why it stopped, if it failed, and the run's totals. */
  summarize(): void {
    const { out } = this.io;
    const totals = this.tracker.totals(Date.now());
    if (this.failure && this.children.length === 0) {
      // It never got going: one line saying why.
      out.write(`demo: cannot start: ${this.failure}\n`);
      return;
    }
    if (this.failure) out.write(`demo: stopped: ${this.failure}\n`);
    out.write(
      `demo: ${totals.streams} streams, ${totals.scored} windows scored, ${totals.alerts} alerts (${totals.alertsOnInjected} on injected anomalies); logs in ${this.shownDir}\n`,
    );
    if (this.options.anomalies > 0)
      out.write(
        `demo: caught ${totals.caught} of ${totals.injected} injected anomalies (an alert within ${CATCH_WITHIN} windows of the start)${totals.missed.length > 0 ? `; missed: ${totals.missed.join(', ')}` : ''}\n`,
      );
  }

  /** The report, with the injected anomalies shaded, unless none was asked for or the run failed. */
  async writeRunReport(): Promise<void> {
    const { report } = this.options;
    if (report === undefined || this.failure) return;
    const file = report.startsWith('/') ? report : join(this.runDir, report);
    // The injected anomalies as labels (NAB's format, keyed by stream id): shaded in the report.
    const labels = join(this.runDir, 'injected-anomalies.json');
    await writeFile(labels, JSON.stringify(this.injected.labels()));
    const result = await writeReport(
      { prefix: this.prefix, since: this.started, labels },
      file,
      this.io.env,
      (p) => (this.report = p),
    );
    this.io.out.write(
      result.ok
        ? `demo: report ${relative(process.cwd(), file) || file}\n`
        : `demo: the report could not be written: ${result.reason}\n`,
    );
  }

  /** Drops what the run left unfinished, and stops the services it started. */
  async cleanUp(): Promise<void> {
    const { out } = this.io;
    if (this.children.length > 0)
      await forgetUnfinished(this.config, this.prefix).then(
        ({ jobs, streams }) => {
          const dropped = [
            jobs > 0 && `${jobs} training jobs not run`,
            streams > 0 && `the held windows of ${streams} sensors without a model`,
          ].filter(Boolean);
          if (dropped.length > 0) out.write(`demo: dropped ${dropped.join(' and ')}\n`);
        },
        (err: Error) => out.write(`demo: cleanup: ${err.message}\n`),
      );
    if (this.ownServices)
      await servicesRelease({
        owner: this.servicesOwner,
        log: (l) => out.write(`demo: services: ${l}\n`),
      }).catch((err: Error) => out.write(`demo: services: ${err.message}\n`));
  }
}

/** Stops a start that Ctrl-C interrupted (the `finally` stops what had started). */
class Stop extends Error {}

/** Polls `/readyz` until it answers 200 (or `cancelled()`). */
async function waitReady(url: string, cancelled: () => boolean): Promise<void> {
  while (!cancelled()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * `seqae report --stream-prefix <prefix> --since <start> --out <file>` as a child (only this run's
 * records are read, however long the topics); its one-line reason when it fails.
 */
async function writeReport(
  run: { prefix: string; since: number; labels: string },
  file: string,
  env: NodeJS.ProcessEnv,
  started: (proc: ChildProcess) => void,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const proc = spawn(
    process.execPath,
    [
      join(repoRoot, 'bin', 'seqae.js'),
      'report',
      '--stream-prefix',
      run.prefix,
      // A little before the run started: clocks of the broker and this process may differ.
      '--since',
      String(run.since - 60_000),
      '--labels',
      run.labels,
      '--out',
      file,
    ],
    { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
  );
  proc.channel?.unref();
  started(proc);
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-4000)));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 180_000);
  const code = await new Promise<number | string>((resolve) => {
    proc.once('exit', (c, signal) => resolve(c ?? signal ?? -1));
    proc.once('error', () => resolve(-1));
  });
  clearTimeout(timer);
  if (code === 0 && existsSync(file)) return { ok: true };
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
  return { ok: false, reason: last ?? `seqae report exited (${code})` };
}
