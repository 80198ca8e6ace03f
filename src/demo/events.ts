import { QueueEvents } from 'bullmq';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { SeqaeConfig } from '../config/index.js';
import { decodeOutput, OUTPUT_HEADERS } from '../contracts/outputs.js';
import type { TrainProgress } from '../contracts/jobs.js';
import { createRedis } from '../transport/redis.js';
import { ensureTopics } from '../transport/topics.js';
import type { DemoEvent } from './tracker.js';
import { ResourceScope } from '../lifecycle/scope.js';

/**
 * Where the demo hears what happens, without reading any log: the windows and anomalies topics
 * through a consumer of its own (a throwaway group, from the offsets taken when the demo started, so
 * it sees only this run), and the training queue's events (queued, started, each epoch, done).
 */
export interface DemoListener {
  close(): Promise<void>;
}

/** `fn` again while it fails with an error Kafka calls retriable (a leader not known yet), ~20 s at most. */
async function retrying<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || (err as { retriable?: boolean }).retriable !== true) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** `train@<model>@v<n>`: the model (a stream's own, here) and the version a training job makes. */
export function parseTrainJobId(jobId: string): { modelId: string; version: number } | undefined {
  const m = /^train@(.+)@v(\d+)$/.exec(jobId);
  return m ? { modelId: m[1]!, version: Number(m[2]) } : undefined;
}

/** The stream and seq of a message's `seqae-id` header (`streamId:seq`). */
function identity(value: Buffer | string | (Buffer | string)[] | undefined) {
  const text = Array.isArray(value) ? value[0]?.toString() : value?.toString();
  const at = text?.lastIndexOf(':') ?? -1;
  if (!text || at < 1) return undefined;
  const seq = Number(text.slice(at + 1));
  return Number.isInteger(seq) ? { streamId: text.slice(0, at), seq } : undefined;
}

/**
 * Starts listening; `emit` gets each event of streams whose id starts with `prefix`. Call before the
 * producer starts: the consumer begins at the topics' ends as they are now.
 */
export async function listen(options: {
  config: SeqaeConfig;
  kafka: Kafka;
  prefix: string;
  groupId: string;
  /**
   * The consumer group of the demo's worker: set to start at the windows topic's end as it is now, so
   * the worker reads this run's windows, not a backlog the default group may have. Deleted at close.
   */
  workerGroupId: string;
  emit: (event: DemoEvent) => void;
}): Promise<DemoListener> {
  const { config, kafka, prefix, emit } = options;
  const { windows, anomalies } = config.topics;
  // What it opens closes in reverse at close, and also when listening fails half way.
  const scope = new ResourceScope();
  return scope.run(async () => {
    const admin: Admin = kafka.admin();
    await admin.connect();
    scope.add('kafka admin', admin, (a) => a.disconnect());
    // The throwaway groups go with the demo (once their members have left: they close first).
    scope.add('consumer groups', admin, (a) =>
      a.deleteGroups([options.groupId, options.workerGroupId]).catch(() => {}),
    );
    const starts = await topicEnds(admin, config, [windows, anomalies]);
    const windowStarts = starts.find((x) => x.topic === windows)!.offsets;
    await retrying(() =>
      admin.setOffsets({
        groupId: options.workerGroupId,
        topic: windows,
        partitions: windowStarts.map(({ partition, offset }) => ({ partition, offset })),
      }),
    );

    const consumer: Consumer = kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: 200,
      sessionTimeout: 10_000,
    });
    scope.add('consumer', consumer, (c) => c.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topics: [windows, anomalies], fromBeginning: false });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const at = Date.now();
        for (const m of batch.messages) {
          if (!m.key?.toString().startsWith(prefix)) continue;
          const event = batch.topic === windows ? windowEvent(m, at) : scoreEvent(m, at);
          if (event) emit(event);
        }
      },
    });
    // From where the topics ended when the demo started, whatever the new group's reset found.
    for (const { topic, offsets } of starts)
      for (const { partition, offset } of offsets) consumer.seek({ topic, partition, offset });

    await listenTraining(config, prefix, emit, scope);
    return { close: () => scope.close() };
  });
}

/** The topics' end offsets as they are now; topics created just now may lack leaders: retried. */
async function topicEnds(admin: Admin, config: SeqaeConfig, topics: string[]) {
  return retrying(async () => {
    await ensureTopics(admin, Object.values(config.topics), config.kafka.topicPartitions);
    return Promise.all(
      topics.map(async (topic) => ({ topic, offsets: await admin.fetchTopicOffsets(topic) })),
    );
  });
}

/** A windows-topic message as the demo's event: its stream and seq, from the `seqae-id` header. */
function windowEvent(m: KafkaMessage, at: number): DemoEvent | undefined {
  const id = identity(m.headers?.['seqae-id']);
  return id && { type: 'window', streamId: id.streamId, seq: id.seq, at };
}

/** An anomalies-topic message as the demo's event; undefined for what is not an anomaly output. */
function scoreEvent(m: KafkaMessage, at: number): DemoEvent | undefined {
  let o: {
    streamId?: unknown;
    seq?: unknown;
    score?: unknown;
    alert?: unknown;
    alertScore?: unknown;
    modelVersion?: unknown;
    end?: unknown;
    reason?: unknown;
    featureErrors?: { top?: unknown } | null;
  };
  try {
    o = decodeOutput(m.value) as typeof o;
  } catch {
    return undefined; // not ours to judge: the worker wrote it
  }
  if (typeof o.streamId !== 'string' || typeof o.score !== 'number') return undefined;
  const version =
    typeof o.modelVersion === 'number'
      ? o.modelVersion
      : Number(m.headers?.[OUTPUT_HEADERS.modelVersion]?.toString() ?? 0);
  return {
    type: 'score',
    streamId: o.streamId,
    seq: typeof o.seq === 'number' ? o.seq : -1,
    score: o.score,
    alert: o.alert === true,
    ...(typeof o.alertScore === 'number' ? { alertScore: o.alertScore } : {}),
    version,
    at,
    ...(typeof o.end === 'number' ? { end: o.end } : {}),
    ...(typeof o.reason === 'string' ? { reason: o.reason } : {}),
    ...(Number.isInteger(o.featureErrors?.top) ? { feature: o.featureErrors!.top as number } : {}),
  };
}

/** The training queue's events of the run's streams: queued, started, each epoch, done, failed. */
async function listenTraining(
  config: SeqaeConfig,
  prefix: string,
  emit: (event: DemoEvent) => void,
  scope: ResourceScope,
): Promise<void> {
  // Its own connection: QueueEvents blocks on it (XREAD BLOCK).
  const connection = scope.add(
    'redis',
    createRedis(config, { bullmq: true, name: 'seqae-demo-events' }),
    (c) => c.disconnect(),
  );
  connection.on('error', () => {}); // retried by ioredis; the view just hears less meanwhile
  const events = scope.add(
    'queue events',
    new QueueEvents(config.queues.train, { connection, prefix: config.queues.prefix }),
    (e) => e.close(),
  );
  const train = (jobId: string, make: (model: string, version: number) => DemoEvent) => {
    const job = parseTrainJobId(jobId);
    if (job?.modelId.startsWith(prefix)) emit(make(job.modelId, job.version));
  };
  events.on('waiting', ({ jobId }) =>
    train(jobId, (streamId, version) => ({
      type: 'train-queued',
      streamId,
      version,
      at: Date.now(),
    })),
  );
  events.on('active', ({ jobId }) =>
    train(jobId, (streamId, version) => ({
      type: 'train-active',
      streamId,
      version,
      at: Date.now(),
    })),
  );
  events.on('progress', ({ jobId, data }) => {
    const p = data as Partial<TrainProgress>;
    if (typeof p?.epoch !== 'number') return;
    train(jobId, (streamId, version) => ({
      type: 'train-progress',
      streamId,
      version,
      epoch: p.epoch!,
      epochs: p.epochs ?? p.epoch!,
      loss: p.loss ?? NaN,
      at: Date.now(),
    }));
  });
  events.on('completed', ({ jobId }) =>
    train(jobId, (streamId, version) => ({
      type: 'train-done',
      streamId,
      version,
      at: Date.now(),
    })),
  );
  events.on('failed', ({ jobId, failedReason }) =>
    train(jobId, (streamId, version) => ({
      type: 'train-failed',
      streamId,
      version,
      reason: failedReason,
      at: Date.now(),
    })),
  );
  events.on('error', () => {}); // Redis trouble: the connection retries; the view just hears less
  await events.waitUntilReady();
}
