import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { childPids, runNode } from '../support/processes.js';
import { testConfig, testEnv } from '../support/services.js';
import { createRedis } from '../../src/transport/redis.js';

/**
 * `seqae demo` as a person runs it (node bin/seqae.js demo), against this run's Redis and Kafka with
 * its own topic and queue prefixes: without a terminal (plain lines), after Ctrl-C (SIGINT), after
 * SIGKILL (its children stop themselves), and on a terminal (script(1) gives it a pty).
 */
const small = ['--anomalies', '1', '--speed', '40', '--warmup-windows', '64', '--epochs', '5'];
const env = (name: string) =>
  testEnv(name, {
    SEQAE_LOG_LEVEL: 'info',
    SEQAE_UNITS: '16',
    SEQAE_WARM_START_EPOCHS: '5',
    SEQAE_TRAIN_POOL: '1',
  });

interface Demo {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | string>;
  /** Resolves once a line matches (rejects when the demo exits first). */
  until(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0))
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

function startDemo(args: string[], name: string): Demo {
  const proc = spawn(process.execPath, ['bin/seqae.js', 'demo', ...args], {
    env: { ...process.env, ...env(name) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(proc);
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  let rest = '';
  const take = (b: Buffer) => {
    const parts = (rest + b.toString('utf8')).split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters])
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    proc,
    lines,
    exited,
    until(pattern, timeoutMs = 240_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${pattern} in:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`demo exited (${code}) before ${pattern}:\n${lines.join('\n')}`));
        });
      });
    },
  };
}

/** The demo's processes: its children (worker, producer) and theirs (training processes). */
function family(pid: number): number[] {
  const children = childPids(pid);
  return [...children, ...children.flatMap((c) => childPids(c))];
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Resolves with the pids still alive after up to `ms`. */
async function survivors(pids: number[], ms: number): Promise<number[]> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (!pids.some(alive)) return [];
    await new Promise((r) => setTimeout(r, 250));
  }
  return pids.filter(alive);
}

/** Resolves with the exit code, or 'timeout' (then kills it) when it does not exit within `ms`. */
async function exitWithin(demo: Demo, ms: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  const code = await Promise.race([demo.exited, timeout]);
  clearTimeout(timer);
  if (code === 'timeout') demo.proc.kill('SIGKILL');
  return code;
}

describe('seqae demo', () => {
  it('without a terminal: a line per stream as it warms up, trains and scores; alerts on injected anomalies; Ctrl-C stops all', async () => {
    const demo = startDemo(['--streams', '3', ...small, '--report', 'report.html'], 'demo-plain');
    for (const i of [0, 1, 2])
      await demo.until(new RegExp(`^\\[.*\\] sensor-${i}  training -> scoring`));
    // Stream 0 carries the injected anomalies (two every 1000 readings, 25 s at this speed).
    // Said as an incident: the one it opens, or one it joins; why it fired and the feature (0 of 1).
    await demo.until(
      /sensor-0 {2}INCIDENT #\d+( joined)?: reason \S+, feature 0, alert score [\d.]+ \(score [\d.]+\) at seq \d+ \(injected anomaly at \d+\)/,
    );
    await demo.until(/\] 3 streams: 0 warming up, 0 training, 3 scoring · \d+ windows\/s/, 30_000);
    const pids = family(demo.proc.pid!);
    expect(pids.length).toBeGreaterThanOrEqual(2); // worker and producer at least

    demo.proc.kill('SIGINT');
    expect(await exitWithin(demo, 30_000), demo.lines.join('\n')).toBe(0);
    expect(await survivors(pids, 5_000)).toEqual([]);

    const { lines } = demo;
    for (const i of [0, 1, 2]) {
      const at = (p: RegExp) => lines.findIndex((l) => p.test(l));
      const warming = at(new RegExp(`\\] sensor-${i}  warming up \\(`));
      const training = at(new RegExp(`\\] sensor-${i}  warming up -> training`));
      const scoring = at(
        new RegExp(`\\] sensor-${i}  training -> scoring \\(model v1 score [\\d.]+\\)`),
      );
      expect(
        [warming, training, scoring].every((x) => x >= 0),
        lines.join('\n'),
      ).toBe(true);
      expect(warming).toBeLessThan(training);
      expect(training).toBeLessThan(scoring);
    }
    // Only streams with injected anomalies are said to hit one; every score is in [0, 1].
    expect(lines.filter((l) => /sensor-[12] {2}INCIDENT .*injected/.test(l))).toEqual([]);
    const scores = lines.flatMap((l) =>
      [...l.matchAll(/score (\d+\.\d+)/g)].map((m) => Number(m[1])),
    );
    expect(scores.length).toBeGreaterThan(3);
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^demo: 3 streams, \d+ windows scored, \d+ alerts \(\d+ on injected anomalies\); logs in /,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^demo: caught \d+ of \d+ injected anomalies \(an alert within 10 windows/,
      ),
    );
    // The run's report: written, one line with its path, and a section for each of the run's sensors.
    const report = lines.filter((l) => /^demo: (report |the report could not be written)/.test(l));
    expect(report, lines.join('\n')).toHaveLength(1);
    const written = /^demo: report (.+)$/.exec(report[0]!);
    expect(written, report[0]).not.toBeNull();
    const html = readFileSync(written![1]!, 'utf8');
    for (const sensor of ['sensor-0', 'sensor-1', 'sensor-2']) expect(html).toContain(`/${sensor}`);
    // The injected anomalies are the report's labels: sensor-0's alone, shaded on its charts.
    const labelsFile = join(dirname(written![1]!), 'injected-anomalies.json');
    const labels = JSON.parse(readFileSync(labelsFile, 'utf8')) as Record<string, unknown[]>;
    expect(Object.keys(labels)).toHaveLength(1);
    expect(Object.keys(labels)[0]).toMatch(/^demo-\w+\/sensor-0$/);
    expect(labels[Object.keys(labels)[0]!]!.length).toBeGreaterThan(0);
    expect(html).toContain('injected-anomalies.json');
  });

  it('SIGKILLed: its worker and producer stop by themselves within seconds', async () => {
    const demo = startDemo(['--streams', '2', ...small, '--no-report'], 'demo-kill');
    await demo.until(/sensor-\d {2}warming up -> training/);
    const pids = family(demo.proc.pid!);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    demo.proc.kill('SIGKILL');
    await demo.exited;
    expect(await survivors(pids, 15_000)).toEqual([]);
  });

  it('stopped while sensors wait for training: leaves no training job and no held windows of its run', async () => {
    const name = 'demo-cleanup';
    const demo = startDemo(['--streams', '4', ...small, '--no-report'], name);
    const run = /^demo: run (\w+):/.exec(await demo.until(/^demo: run \w+:/))![1]!;
    // One training at a time (SEQAE_TRAIN_POOL=1): once all four asked, most still wait.
    for (const i of [0, 1, 2, 3])
      await demo.until(new RegExp(`sensor-${i}  warming up -> training`));
    demo.proc.kill('SIGINT');
    expect(await exitWithin(demo, 30_000), demo.lines.join('\n')).toBe(0);
    expect(demo.lines).toContainEqual(
      expect.stringMatching(
        /^demo: dropped [1-4] training jobs not run and the held windows of [1-4] sensors/,
      ),
    );
    const config = testConfig(name);
    const redis = createRedis(config);
    const queue = new Queue(config.queues.train, {
      connection: redis,
      prefix: config.queues.prefix,
    });
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'failed']);
      expect(jobs.filter((j) => j?.id?.includes(`demo-${run}/`)).map((j) => j.id)).toEqual([]);
      const pending = await redis.smembers(`${config.redis.keyPrefix}:pending-models`);
      expect(pending.filter((m) => m.startsWith(`demo-${run}/`))).toEqual([]);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });

  it('a bad option: one line, exit 2, nothing started', async () => {
    const r = await runNode(['bin/seqae.js', 'demo', '--streams', '0'], env('demo-bad'));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/seqae demo: .*--streams/);
    expect(r.stdout).toBe('');
  });

  it('on a terminal: a table redrawn in place, and a clean exit at --duration', async () => {
    const args = [
      'bin/seqae.js',
      'demo',
      '--streams',
      '2',
      ...small,
      '--duration',
      '25',
      '--no-report',
    ];
    const proc = spawn(
      'script',
      ['-qfec', `stty cols 120 rows 30; ${process.execPath} ${args.join(' ')}`, '/dev/null'],
      { env: { ...process.env, ...env('demo-tty') }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.push(proc);
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const code = await new Promise<number | string>((resolve) =>
      proc.on('exit', (c, signal) => resolve(c ?? signal ?? -1)),
    );
    expect(code, out).toBe(0);
    expect(out).toMatch(/STREAM\s+STATE\s+WIN\/S\s+SCORE\s+ALERTS/);
    expect(out).toMatch(/sensor-0 \*\s/);
    expect(out).toContain('\x1b[2K\x1b[1A'); // lines erased and the cursor moved up: a redraw
    expect(out).toMatch(/metrics {2}worker http:\/\/127\.0\.0\.1:\d+\/metrics {3}producer http/);
    expect(out).toMatch(/demo: 2 streams, \d+ windows scored/);
  });
});
