import { spawnGroup, stopGroup, type GroupChild } from '../../lifecycle/child.js';
import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { readConfig, type SeqaeConfig } from '../../config/index.js';
import { decodeOutput } from '../../contracts/outputs.js';
import { createKafka } from '../../transport/kafka.js';
import { createRedis } from '../../transport/redis.js';
import { ensureTopics } from '../../transport/topics.js';
import type { FileDetector, FileStep } from '../detector.js';
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

type Started = GroupChild;

function start(
  name: string,
  seqae: KafkaEvalOptions['seqae'],
  args: string[],
  env: NodeJS.ProcessEnv,
  keep: number,
): Started {
  return spawnGroup(name, seqae.command, [...seqae.args, ...args], { env, keep });
}

const stop = (c: Started, graceMs = 30_000) => stopGroup(c, graceMs);

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
  const { names, env } = runEnv(run, o.env);
  const runConfig = readConfig(env).config;

  const kafka: Kafka = createKafka(config, { clientId: `seqae-eval-${run}` });
  const admin = kafka.admin();
  await admin.connect();
  const topics = Object.values(runConfig.topics);
  await ensureTopics(admin, topics, 1);

  // Every score of the run, by stream and seq (at least once: a repeat overwrites itself).
  const reader = await readScores(kafka, `seqae-eval-${run}-reader`, runConfig.topics.anomalies);
  const { scores, consumer } = reader;
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
        await allScores(reader, streamId, windows.length, {
          worker,
          idleTimeoutMs: o.idleTimeoutMs,
          what: `${file.name}: `,
          where: runConfig.topics.anomalies,
          onStep,
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

/** A run's own names (topics, keys, queues) and the variables its processes get. */
function runEnv(run: string, base: NodeJS.ProcessEnv) {
  const names = {
    SEQAE_TOPIC_PREFIX: `seqae-eval-${run}.`,
    SEQAE_KEY_PREFIX: `seqae-eval-${run}`,
    SEQAE_QUEUE_PREFIX: `seqae-eval-${run}-`,
  };
  const env: NodeJS.ProcessEnv = {
    ...base,
    ...names,
    // One worker reads the run's windows: one partition each. Each file learns only from itself: no
    // warm start from another file's model, no retraining (the in-process detector does neither).
    SEQAE_TOPIC_PARTITIONS: '1',
    SEQAE_WARM_START: 'false',
    SEQAE_RETRAIN_EVERY: '0',
    SEQAE_HTTP_PORT: '0',
    SEQAE_LOG_LEVEL: base.SEQAE_LOG_LEVEL ?? 'warn',
  };
  for (const own of ['SEQAE_GROUP_ID', 'SEQAE_MODEL_GROUP', 'SEQAE_PRODUCER_GROUP'])
    delete env[own];
  return { names, env };
}

/** A consumer of the run's anomalies topic keeping every score by stream and seq; `onScore` hears each. */
async function readScores(kafka: Kafka, groupId: string, topic: string) {
  const scores = new Map<string, Map<number, number>>();
  const reader: {
    scores: typeof scores;
    consumer: Consumer;
    onScore?: () => void;
  } = { scores, consumer: kafka.consumer({ groupId }) };
  const { consumer } = reader;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
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
        reader.onScore?.();
      } catch {
        // not an anomaly output: nothing to read
      }
    },
  });
  return reader;
}

/**
 * Resolves once `total` scores of `streamId` have been read; rejects when none comes for
 * `idleTimeoutMs`, or when the worker exits first.
 */
function allScores(
  reader: Awaited<ReturnType<typeof readScores>>,
  streamId: string,
  total: number,
  run: {
    worker: Started;
    idleTimeoutMs: number;
    what: string;
    where: string;
    onStep?: (step: FileStep) => void;
  },
): Promise<void> {
  const { worker, onStep } = run;
  const got = () => reader.scores.get(streamId)?.size ?? 0;
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout;
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new Error(
              `${run.what}${got()} of ${total} window scores on ${run.where}, none for ${run.idleTimeoutMs} ms${tail(worker)}`,
            ),
          ),
        run.idleTimeoutMs,
      );
    };
    const finish = (err?: Error) => {
      clearTimeout(timer);
      reader.onScore = undefined;
      if (err) reject(err);
      else resolve();
    };
    reader.onScore = () => {
      onStep?.({ phase: 'scores read (windows)', done: got(), total });
      idle();
      if (got() >= total) finish();
    };
    void worker.exited.then((c) =>
      finish(new Error(`${run.what}seqae worker exited with ${c}${tail(worker)}`)),
    );
    onStep?.({ phase: 'training and scoring' });
    idle();
    reader.onScore();
  });
}
