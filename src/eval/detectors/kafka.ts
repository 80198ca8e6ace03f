import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { readConfig, type SeqaeConfig } from '../../config/index.js';
import { decodeOutput } from '../../contracts/outputs.js';
import { createKafka } from '../../transport/kafka.js';
import { createRedis } from '../../transport/redis.js';
import { ensureTopics } from '../../transport/topics.js';
import type { FileDetector } from '../detector.js';
import { fileWindows, nabStreamId, rowScores, warmupFor } from '../nab/stream.js';
import { WORKER_PATH_DEFAULTS, type WorkerPathOptions } from './worker-path.js';

/** How `--via kafka` runs seqae's processes and how long it waits for them. */
export interface KafkaEvalOptions extends WorkerPathOptions {
  /**
   * The variables of the evaluation (its environment with its flags on top): the worker and the
   * producer of each file get them, so they run with the settings the in-process detector reads.
   */
  env: Record<string, string | undefined>;
  /** How to start `seqae`: the node binary and the arguments before the command. */
  seqae: { command: string; args: string[] };
  /** Longest wait for the next score of a file before it fails, ms. Default 300000. */
  idleTimeoutMs: number;
  /** Output lines kept per process, for the error when one fails. Default 40. */
  keepLines?: number;
}

/** A child process in its own process group (its training children with it) and its last lines. */
interface Started {
  name: string;
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | string>;
}

function start(
  name: string,
  seqae: KafkaEvalOptions['seqae'],
  args: string[],
  env: NodeJS.ProcessEnv,
  keep: number,
): Started {
  const proc = spawn(seqae.command, [...seqae.args, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines: string[] = [];
  const onData = (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > keep) lines.shift();
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
    proc.on('error', (err) => {
      lines.push(String(err));
      if (proc.pid === undefined) resolve(-1);
    });
  });
  return { name, proc, lines, exited };
}

const running = (c: Started) => c.proc.exitCode === null && c.proc.signalCode === null;

/** Signals a child's whole process group (the child and what it started); gone already is fine. */
function signalGroup(c: Started, signal: NodeJS.Signals): void {
  if (c.proc.pid === undefined) return;
  try {
    process.kill(-c.proc.pid, signal);
  } catch {
    // ESRCH: the group is gone
  }
}

/**
 * Stops a child: SIGTERM to it (a worker stops gracefully and ends its training children), SIGKILL to
 * its group after `graceMs` or once it exited, so that nothing it started outlives it.
 */
async function stop(c: Started, graceMs = 30_000): Promise<void> {
  if (running(c)) c.proc.kill('SIGTERM');
  const timer = setTimeout(() => signalGroup(c, 'SIGKILL'), graceMs);
  try {
    await c.exited;
  } finally {
    clearTimeout(timer);
    signalGroup(c, 'SIGKILL');
  }
}

const tail = (c: Started) =>
  c.lines.length ? `; last output of ${c.name}:\n  ${c.lines.slice(-10).join('\n  ')}` : '';

/**
 * The `seqae` detector through the real system (`seqae eval nab --via kafka`): each file replayed at
 * full speed by a `seqae produce` process onto Kafka, then a `seqae worker` process (train and stream
 * roles, the evaluation's settings, SEQAE_WARMUP_WINDOWS for that file) trains the stream's first
 * version and scores its windows, and the scores are read back from the anomalies topic. Everything
 * lives under names of its own run (SEQAE_TOPIC_PREFIX, SEQAE_KEY_PREFIX, SEQAE_QUEUE_PREFIX), removed
 * by `close()`. The windows and rows are matched as in-process (fileWindows, rowScores).
 */
export async function kafkaDetector(
  config: SeqaeConfig,
  options: Partial<KafkaEvalOptions> & Pick<KafkaEvalOptions, 'env' | 'seqae'>,
): Promise<FileDetector & { run: string }> {
  const o = { idleTimeoutMs: 300_000, keepLines: 40, ...WORKER_PATH_DEFAULTS, ...options };
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const names = {
    SEQAE_TOPIC_PREFIX: `seqae-eval-${run}.`,
    SEQAE_KEY_PREFIX: `seqae-eval-${run}`,
    SEQAE_QUEUE_PREFIX: `seqae-eval-${run}-`,
  };
  const env: NodeJS.ProcessEnv = {
    ...o.env,
    ...names,
    // One worker reads the run's windows: one partition each. Each file learns only from itself: no
    // warm start from another file's model, no retraining (the in-process detector does neither).
    SEQAE_TOPIC_PARTITIONS: '1',
    SEQAE_WARM_START: 'false',
    SEQAE_RETRAIN_EVERY: '0',
    SEQAE_HTTP_PORT: '0',
    SEQAE_LOG_LEVEL: o.env.SEQAE_LOG_LEVEL ?? 'warn',
  };
  for (const own of ['SEQAE_GROUP_ID', 'SEQAE_MODEL_GROUP', 'SEQAE_PRODUCER_GROUP'])
    delete env[own];
  const runConfig = readConfig(env).config;

  const kafka: Kafka = createKafka(config, { clientId: `seqae-eval-${run}` });
  const admin = kafka.admin();
  await admin.connect();
  const topics = Object.values(runConfig.topics);
  await ensureTopics(admin, topics, 1);

  // Every score of the run, by stream and seq (at least once: a repeat overwrites itself).
  const scores = new Map<string, Map<number, number>>();
  let onScore: (() => void) | undefined;
  const consumer: Consumer = kafka.consumer({ groupId: `seqae-eval-${run}-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic: runConfig.topics.anomalies, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const a = decodeOutput(message.value) as {
          streamId?: unknown;
          seq?: unknown;
          score?: unknown;
        };
        if (typeof a.streamId !== 'string' || typeof a.seq !== 'number') return;
        if (typeof a.score !== 'number') return;
        let s = scores.get(a.streamId);
        if (!s) scores.set(a.streamId, (s = new Map()));
        s.set(a.seq, a.score);
        onScore?.();
      } catch {
        // not an anomaly output: nothing to read
      }
    },
  });

  const children = new Set<Started>();
  const startChild = (name: string, args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const c = start(name, o.seqae, args, { ...env, ...extra }, o.keepLines);
    children.add(c);
    void c.exited.then(() => children.delete(c));
    return c;
  };

  return {
    name: 'seqae',
    run,
    async scoreFile(file, info, onStep) {
      if (!file.path) throw new Error(`${file.name}: no path to replay it from`);
      const streamId = nabStreamId(`nab-${run}/`, file.name);
      const { windows, rowOfSeq } = fileWindows(file, streamId, runConfig.producer);
      const warmup = warmupFor(info.length, runConfig.worker.warmupWindows, o.trainFraction);

      // The whole file is on the topic before the worker starts: the worker holds the windows until
      // the first version, then scores them in order (a window arriving after the version would be
      // scored before the held ones).
      onStep?.({ phase: 'producing' });
      const producer = startChild(`producer of ${file.name}`, [
        'produce',
        '--source',
        `csv:${file.path}`,
        '--stream',
        streamId,
        '--to',
        'kafka',
        '--no-progress',
        '--no-http',
      ]);
      const code = await producer.exited;
      if (code !== 0)
        throw new Error(`${file.name}: seqae produce exited with ${code}${tail(producer)}`);

      const worker = startChild(`worker of ${file.name}`, ['worker', '--roles', 'train,stream'], {
        SEQAE_WARMUP_WINDOWS: String(warmup),
      });
      try {
        const got = () => scores.get(streamId)?.size ?? 0;
        await new Promise<void>((resolve, reject) => {
          let timer: NodeJS.Timeout;
          const idle = () => {
            clearTimeout(timer);
            timer = setTimeout(
              () =>
                finish(
                  new Error(
                    `${file.name}: ${got()} of ${windows.length} window scores on ${runConfig.topics.anomalies}, none for ${o.idleTimeoutMs} ms${tail(worker)}`,
                  ),
                ),
              o.idleTimeoutMs,
            );
          };
          const finish = (err?: Error) => {
            clearTimeout(timer);
            onScore = undefined;
            if (err) reject(err);
            else resolve();
          };
          onScore = () => {
            onStep?.({ phase: 'scores read (windows)', done: got(), total: windows.length });
            idle();
            if (got() >= windows.length) finish();
          };
          void worker.exited.then((c) =>
            finish(new Error(`${file.name}: seqae worker exited with ${c}${tail(worker)}`)),
          );
          onStep?.({ phase: 'training and scoring' });
          idle();
          onScore();
        });
      } finally {
        await stop(worker);
      }
      return rowScores(info.length, rowOfSeq, scores.get(streamId)!);
    },

    async close() {
      await Promise.all([...children].map((c) => stop(c, 5000)));
      await consumer.disconnect().catch(() => {});
      await admin.deleteTopics({ topics }).catch(() => {});
      await admin.disconnect().catch(() => {});
      // The run's models, held windows and queues.
      const redis = createRedis(runConfig, { name: 'seqae-eval' });
      try {
        for (const pattern of [
          `${names.SEQAE_KEY_PREFIX}:*`,
          `${runConfig.queues.prefix}:${names.SEQAE_QUEUE_PREFIX}*`,
        ]) {
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            if (keys.length) await redis.unlink(...keys);
            cursor = next;
          } while (cursor !== '0');
        }
      } finally {
        redis.disconnect();
      }
    },
  };
}
