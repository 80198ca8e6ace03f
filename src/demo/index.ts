import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { repoRoot, servicesRelease, servicesUp } from '../../scripts/services/index.js';
import type { SeqaeConfig } from '../config/index.js';
import { parseSyntheticSpec, streamAnomalies } from '../producer/sources/synthetic.js';
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

export async function runDemo(
  config: SeqaeConfig,
  options: DemoOptions,
  io: { out: NodeJS.WriteStream; env: NodeJS.ProcessEnv } = {
    out: process.stdout,
    env: process.env,
  },
): Promise<number> {
  const started = Date.now();
  const runId = `${Date.now().toString(36).slice(-6)}${Math.floor(Math.random() * 36 ** 2)
    .toString(36)
    .padStart(2, '0')}`;
  const prefix = `demo-${runId}/`;
  // Where the person runs it (the repository for `npm run demo`), not inside an installed package.
  const runDir = join(process.cwd(), '.demo', runId);
  mkdirSync(runDir, { recursive: true });
  const shownDir = relative(process.cwd(), runDir) || runDir;
  const tty = io.out.isTTY === true;
  const view: DemoView = tty
    ? terminalView(io.out, io.env.NO_COLOR === undefined)
    : plainView(io.out);
  const say = (text: string) => view.line(`demo: ${text}`);

  const source = `mix?${new URLSearchParams({
    streams: String(options.streams),
    length: '0',
    anomalies: String(options.anomalies > 0 ? ANOMALIES_PER_BLOCK : 0),
    anomalous: String(options.anomalies),
    noise: '0.05',
    step: '1000',
    seed: '1',
    prefix: `${prefix}sensor-`,
  })}`;
  const spec = parseSyntheticSpec(source);
  const tracker = new DemoTracker({ prefix, window: options.window });
  let injectedBlocks = 0;
  let highestSeq = 0;
  const injectUpTo = (seq: number) => {
    while (injectedBlocks * BLOCK <= seq + BLOCK) {
      for (let i = 0; i < Math.min(options.anomalies, spec.streams); i++)
        tracker.inject(streamAnomalies(spec, i, injectedBlocks));
      injectedBlocks++;
    }
  };
  injectUpTo(0);
  const emit = (event: DemoEvent) => {
    if (event.type === 'window' && event.seq > highestSeq) injectUpTo((highestSeq = event.seq));
    view.notices(event.at - started, tracker.apply(event));
  };

  let stopRequested: string | undefined;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const children: DemoChild[] = [];
  let report: ChildProcess | undefined;
  const requestStop = (why: string) => {
    if (stopRequested) {
      // A second Ctrl-C: no more waiting for a graceful stop, nor for the report.
      for (const c of children) if (c.running()) c.proc.kill('SIGKILL');
      report?.kill('SIGKILL');
      // Nothing of its own left to wait for (services still starting, say): go now.
      if (!children.some((c) => c.running())) process.exit(130);
      return;
    }
    stopRequested = why;
    wake();
  };
  const onSignal = (signal: NodeJS.Signals) => requestStop(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let failure: string | undefined;
  let listener: DemoListener | undefined;
  let ownServices = false;
  const servicesOwner = `demo-${process.pid}`;
  const metrics: { name: string; url: string }[] = [];
  let ticker: NodeJS.Timeout | undefined;
  let status: string | undefined;
  const frame = (now: string | undefined = status) =>
    view.frame({
      elapsedMs: Date.now() - started,
      rows: tracker.rows(Date.now()),
      totals: tracker.totals(Date.now()),
      warmupWindows: options.warmupWindows,
      runId,
      metrics,
      runDir: shownDir,
      ...(now ? { status: now } : {}),
    });

  try {
    say(
      `run ${runId}: ${options.streams} streams (${options.anomalies} with injected anomalies), logs in ${shownDir}`,
    );
    const up = await servicesUp({ owner: servicesOwner, log: (l) => say(`services: ${l}`) });
    ownServices = up.started.redis || up.started.kafka;
    if (stopRequested) throw new Stop();

    const kafka = createKafka(config, { clientId: 'seqae-demo' });
    const workerGroupId = `seqae-demo-${runId}-stream`;
    listener = await listen({
      config,
      kafka,
      prefix,
      groupId: `seqae-demo-${runId}-view`,
      workerGroupId,
      emit,
    });

    const [workerPort, producerPort] = await freePorts(2, config.http.host);
    const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    metrics.push(
      { name: 'worker', url: `http://${host}:${workerPort}/metrics` },
      { name: 'producer', url: `http://${host}:${producerPort}/metrics` },
    );
    const env = (own: Record<string, string>): NodeJS.ProcessEnv => ({
      ...io.env,
      SEQAE_LOG_LEVEL: io.env.SEQAE_LOG_LEVEL ?? 'info',
      REDIS_URL: config.redis.url,
      KAFKA_BROKERS: config.kafka.brokers.join(','),
      ...own,
    });
    const worker = startChild({
      root: repoRoot,
      name: 'worker',
      args: ['worker', '--roles', 'train,stream'],
      logFile: join(runDir, 'worker.log'),
      env: env({
        SEQAE_HTTP_PORT: String(workerPort),
        // Its own group, starting at this run's first window (see listen), whatever else shares the topic.
        SEQAE_GROUP_ID: workerGroupId,
        SEQAE_WARMUP_WINDOWS: String(options.warmupWindows),
        SEQAE_EPOCHS: String(options.epochs),
        SEQAE_UNITS: io.env.SEQAE_UNITS ?? String(DEMO_DEFAULTS.units),
        SEQAE_LEARNING_RATE: io.env.SEQAE_LEARNING_RATE ?? String(DEMO_DEFAULTS.learningRate),
        SEQAE_WARM_START_EPOCHS:
          io.env.SEQAE_WARM_START_EPOCHS ?? String(DEMO_DEFAULTS.warmStartEpochs),
        // Ctrl-C within seconds: a training in progress is handed back rather than waited for.
        SEQAE_SHUTDOWN_TIMEOUT_MS: io.env.SEQAE_SHUTDOWN_TIMEOUT_MS ?? '4000',
      }),
    });
    children.push(worker);
    const watch = (c: DemoChild) =>
      void c.exited.then((code) => {
        if (stopRequested) return;
        failure = `${c.name} exited (${code}): ${lastReason(c.logFile)}`;
        requestStop('failure');
      });
    watch(worker);

    ticker = setInterval(() => frame(), tty ? 500 : 1000);
    status = `starting the worker (log: ${join(shownDir, 'worker.log')})…`;
    frame();
    await waitReady(`http://${host}:${workerPort}/readyz`, () => stopRequested !== undefined);
    status = undefined;
    if (stopRequested) throw new Stop(); // finally stops what was started

    const producer = startChild({
      root: repoRoot,
      name: 'producer',
      args: [
        'produce',
        '--source',
        `synthetic:${source}`,
        '--window',
        String(options.window),
        '--speed',
        String(options.speed),
        '--to',
        'kafka',
        '--no-progress',
      ],
      logFile: join(runDir, 'producer.log'),
      env: env({ SEQAE_HTTP_PORT: String(producerPort) }),
    });
    children.push(producer);
    watch(producer);
    say(
      `worker ready; ${options.streams} sensors at ${options.speed} readings/s; metrics ${metrics.map((m) => `${m.name} ${m.url}`).join(', ')}`,
    );

    const timer =
      options.durationSec !== undefined
        ? setTimeout(() => requestStop('duration'), options.durationSec * 1000)
        : undefined;
    await stopped;
    if (timer) clearTimeout(timer);
  } catch (err) {
    if (!(err instanceof Stop)) failure = (err as Error).message;
  } finally {
    if (ticker) clearInterval(ticker);
    frame('stopping…');
    // Producer first (no more windows), then the worker; each by its pid, SIGKILL after a grace.
    const [producer, worker] = [
      children.find((c) => c.name === 'producer'),
      children.find((c) => c.name === 'worker'),
    ];
    await producer?.stop(5000);
    await worker?.stop(8000);
    await listener?.close();
    frame();
    view.close();
  }

  const totals = tracker.totals(Date.now());
  if (failure && children.length === 0) {
    // It never got going: one line saying why.
    io.out.write(`demo: cannot start: ${failure}\n`);
  } else {
    if (failure) io.out.write(`demo: stopped: ${failure}\n`);
    io.out.write(
      `demo: ${totals.streams} streams, ${totals.scored} windows scored, ${totals.alerts} alerts (${totals.alertsOnInjected} on injected anomalies); logs in ${shownDir}\n`,
    );
    if (options.anomalies > 0)
      io.out.write(
        `demo: caught ${totals.caught} of ${totals.injected} injected anomalies (an alert within ${CATCH_WITHIN} windows of the start)\n`,
      );
  }

  if (options.report !== undefined && !failure) {
    const file = options.report.startsWith('/') ? options.report : join(runDir, options.report);
    // The injected anomalies as labels (NAB's format, keyed by stream id): shaded in the report.
    const labels = join(runDir, 'injected-anomalies.json');
    const spans: Record<string, [string, string][]> = {};
    for (let block = 0; block < injectedBlocks; block++)
      for (let i = 0; i < Math.min(options.anomalies, spec.streams); i++)
        for (const a of streamAnomalies(spec, i, block))
          if (a.index <= highestSeq)
            (spans[a.streamId] ??= []).push([
              new Date(a.ts).toISOString(),
              new Date(a.ts + (a.length - 1) * spec.step).toISOString(),
            ]);
    await writeFile(labels, JSON.stringify(spans));
    const result = await writeReport(
      { prefix, since: started, labels },
      file,
      io.env,
      (p) => (report = p),
    );
    io.out.write(
      result.ok
        ? `demo: report ${relative(process.cwd(), file) || file}\n`
        : `demo: the report could not be written: ${result.reason}\n`,
    );
  }
  if (children.length > 0)
    await forgetUnfinished(config, prefix).then(
      ({ jobs, streams }) => {
        const dropped = [
          jobs > 0 && `${jobs} training jobs not run`,
          streams > 0 && `the held windows of ${streams} sensors without a model`,
        ].filter(Boolean);
        if (dropped.length > 0) io.out.write(`demo: dropped ${dropped.join(' and ')}\n`);
      },
      (err: Error) => io.out.write(`demo: cleanup: ${err.message}\n`),
    );
  if (ownServices)
    await servicesRelease({
      owner: servicesOwner,
      log: (l) => io.out.write(`demo: services: ${l}\n`),
    }).catch((err: Error) => io.out.write(`demo: services: ${err.message}\n`));
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return failure ? 1 : 0;
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
