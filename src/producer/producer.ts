import type { Readable } from 'node:stream';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { SeqaeConfig } from '../config/index.js';
import { produceOptions } from '../config/settings.js';
import type { Logger } from '../log/index.js';
import { ModelRegistry } from '../model-registry/index.js';
import { createKafka, loginAccepted } from '../transport/kafka.js';
import {
  checkEvictionPolicy,
  createRedis,
  credentialsAccepted,
  credentialsRefused,
} from '../transport/redis.js';
import type { WindowerOptions } from '../windows/windower.js';
import { RedisCheckpointStore } from './checkpoints.js';
import { createProducerMetrics, type ProducerMetrics } from './metrics.js';
import { ProducerPipeline, type PipelineStats } from './pipeline.js';
import { BullmqWindowSink } from './sinks/bullmq.js';
import { createOutput, type Output } from '../transport/output.js';
import { ensureTopics } from '../transport/topics.js';
import { KafkaDeadLetterSink, KafkaWindowSink } from './sinks/kafka.js';
import { TrainingRequests } from './sinks/train.js';
import { TrainingSink } from './sinks/training.js';
import type { DeadLetterSink, WindowSink } from './sinks/types.js';
import { CsvSource, type CsvColumns } from './sources/csv.js';
import { KafkaReadingSource } from './sources/kafka.js';
import { NdjsonSource } from './sources/ndjson.js';
import { SyntheticSource } from './sources/synthetic.js';
import type { ReadingSource } from './sources/types.js';
import { CHECKPOINT_INTERVAL_MS, LINGER_MS } from './timing.js';
import { ResourceScope } from '../lifecycle/scope.js';

export type SinkName = 'kafka' | 'bullmq';

export interface ProduceOptions {
  /**
   * `csv:<path>`, `ndjson:-` (stdin) or `ndjson:<path>`, `kafka` or `kafka:<topic>` (default topic:
   * the readings topic), `synthetic:<spec>` (see sources/synthetic.ts).
   */
  source: string;
  /** Stream id: of every CSV row; of NDJSON/Kafka readings that name none. */
  streamId?: string;
  /** Sinks; default config.producer.sinks. */
  sinks?: SinkName[];
  /** Windowing; defaults from config.producer (window, stride, reorder, gaps, maxFill). */
  windows?: Partial<WindowerOptions>;
  /** Replay speed: absent or 0 as fast as possible, 1 real time, x a factor. */
  speed?: number;
  /** CSV shape; header and delimiter default to those of the `produce` flags (CSV_DEFAULTS). */
  columns?: CsvColumns;
  header?: boolean;
  delimiter?: string;
  /** Send bad input to the DLQ topic (default true); false only counts and logs it. */
  deadLetters?: boolean;
  /** Explicit training requests: the first `windows` windows of each stream. */
  train?: { windows: number; modelId?: string };
  /** Kafka source: consumer group (default config.producer.groupId), start, idle stop. */
  groupId?: string;
  fromBeginning?: boolean;
  idleExitMs?: number;
  /** Metrics registry; default none (metrics off). */
  registry?: Registry;
  log?: Logger;
  /** Input for `ndjson:-` (default stdin). */
  stdin?: Readable;
  /** Longest a batch lingers before it is sent unfilled, ms; default LINGER_MS (tests shorten it). */
  lingerMs?: number;
}

/**
 * The CSV shape a run leaves unsaid: what the declared `produce` flags default to (`--no-header`
 * means a header unless it is given; `--delimiter` has its default in src/config/settings.ts).
 */
const CSV_DEFAULTS = { header: true, delimiter: produceOptions.delimiter.default! };

/** Splits `kind:rest`; the rest may itself contain ':' (paths, specs). */
export function parseSourceSpec(spec: string): { kind: ReadingSource['kind']; arg: string } {
  const i = spec.indexOf(':');
  const kind = (i === -1 ? spec : spec.slice(0, i)) as ReadingSource['kind'];
  const arg = i === -1 ? '' : spec.slice(i + 1);
  if (!['csv', 'ndjson', 'kafka', 'synthetic'].includes(kind))
    throw new RangeError(
      `source "${spec}": expected csv:<path>, ndjson:-|<path>, kafka[:<topic>] or synthetic:<spec>`,
    );
  if (kind === 'csv' && !arg) throw new RangeError('source csv: give a path, csv:<path>');
  return { kind, arg };
}

/**
 * A producer wired from configuration: the source named by a spec, the chosen sinks, the DLQ, the
 * checkpoint store of a Kafka source, metrics. `run` until the source ends or the signal aborts,
 * then `close`.
 */
export class Producer {
  readonly pipeline: ProducerPipeline;
  readonly source: ReadingSource;
  readonly metrics?: ProducerMetrics;
  /** What it opened, closed in reverse by `close` (or at once when the constructor throws). */
  private readonly scope: ResourceScope;
  private readonly abort = new AbortController();
  /** What is checked or prepared once before the first reading; refused Redis credentials first. */
  private readonly checks: (() => Promise<unknown>)[] = [];

  constructor(
    readonly config: SeqaeConfig,
    readonly options: ProduceOptions,
  ) {
    const log = options.log;
    this.scope = new ResourceScope({
      // A close waits for the sends in progress, as long as they take.
      closeTimeoutMs: Infinity,
      onCloseFailure: (name, err) => log?.warn({ err: String(err), part: name }, 'close failed'),
    });
    const { kind, arg } = parseSourceSpec(options.source);
    this.metrics = options.registry ? createProducerMetrics(options.registry) : undefined;
    try {
      const sinkNames = options.sinks ?? config.producer.sinks;
      const useDlq = options.deadLetters ?? true;
      const writesKafka = sinkNames.includes('kafka') || useDlq;
      const kafka =
        writesKafka || kind === 'kafka'
          ? createKafka(config, {
              log: log ? (level, msg, extra) => log[level](extra, msg) : undefined,
            })
          : undefined;
      const needRedis =
        sinkNames.includes('bullmq') || options.train !== undefined || kind === 'kafka';
      const redis = needRedis ? this.openRedis() : undefined;
      const out = kafka && writesKafka ? this.openOutput(kafka, sinkNames) : undefined;
      const sinks = [...new Set(sinkNames)].map((name) =>
        name === 'kafka'
          ? new KafkaWindowSink(out!, config.topics.windows)
          : this.bullmqSink(redis!),
      );
      const deadLetters: DeadLetterSink | undefined =
        useDlq && out
          ? new KafkaDeadLetterSink(out, config.topics.dlq, config.dlqOriginalMaxBytes)
          : undefined;
      const training = options.train && this.trainingSink(redis!, options.train);
      this.source = this.scope.add('source', this.createSource(kind, arg, kafka), (s) => s.close());
      this.pipeline = this.createPipeline({ sinks, deadLetters, training, redis, kind });
    } catch (err) {
      void this.scope.close();
      throw err;
    }
  }

  /** The BullMQ connection (queues, checkpoints, the model registry), checked before the run. */
  private openRedis(): Redis {
    const { config, options } = this;
    const redis = this.scope.add(
      'redis',
      createRedis(config, { bullmq: true, name: 'seqae-producer' }),
      (r) => r.quit().catch(() => r.disconnect()),
    );
    this.checks.push(() => credentialsAccepted(redis, config));
    const log = options.log;
    if (log) this.checks.push(() => checkEvictionPolicy(redis, log));
    return redis;
  }

  /** A BullMQ queue on the producer's connection, closed with it. */
  private queue(redis: Redis, name: string): Queue {
    const { config, options } = this;
    const q = this.scope.add(
      `queue ${name}`,
      new Queue(name, { connection: redis, prefix: config.queues.prefix }),
      (q) => q.close(),
    );
    // Without a listener BullMQ prints the error with its command, the AUTH password included.
    // Refused credentials are the start check's to report, in one line.
    q.on('error', (err) =>
      options.log?.[credentialsRefused(err) ? 'debug' : 'warn'](
        { err: err.message },
        `queue ${name}`,
      ),
    );
    return q;
  }

  /**
   * The Kafka output of windows and dead letters. The topics it writes are created (before the run)
   * with seqae's partition count before the broker auto-creates them with its own (often 1).
   */
  private openOutput(kafka: Kafka, sinkNames: SinkName[]): Output {
    const { config } = this;
    const topics = [
      config.topics.dlq,
      ...(sinkNames.includes('kafka') ? [config.topics.windows] : []),
    ];
    this.checks.push(async () => {
      const admin = kafka.admin();
      await loginAccepted(admin.connect(), config);
      try {
        await ensureTopics(admin, topics, config.kafka.topicPartitions);
      } finally {
        await admin.disconnect();
      }
    });
    return this.scope.add('kafka producer', createOutput(config, kafka), (o) => o.close());
  }

  private bullmqSink(redis: Redis): WindowSink {
    const { config, metrics } = this;
    const p = config.producer;
    const log = this.options.log;
    return new BullmqWindowSink(this.queue(redis, config.queues.infer), {
      maxWaiting: p.maxWaiting,
      bulk: p.inferBulk,
      signal: this.abort.signal,
      onWaited: (seconds, waiting) => {
        metrics?.backpressureSeconds.inc({ sink: 'bullmq' }, seconds);
        log?.info({ seconds, waiting }, 'waited for the infer queue to drain');
      },
    });
  }

  private trainingSink(redis: Redis, train: NonNullable<ProduceOptions['train']>): TrainingSink {
    const { config } = this;
    const models = new ModelRegistry(redis, {
      prefix: config.redis.keyPrefix,
      keep: config.worker.modelKeep,
    });
    return new TrainingSink(
      new TrainingRequests(this.queue(redis, config.queues.train), models),
      train,
    );
  }

  private createPipeline(parts: {
    sinks: WindowSink[];
    deadLetters?: DeadLetterSink;
    training?: TrainingSink;
    redis?: Redis;
    kind: ReadingSource['kind'];
  }): ProducerPipeline {
    const { config, options: o } = this;
    const p = config.producer;
    const groupId = o.groupId ?? p.groupId;
    return new ProducerPipeline({
      windows: {
        nIn: p.window,
        stride: p.stride,
        reorder: p.reorder,
        gaps: p.gaps,
        maxFill: p.maxFill,
        ...o.windows,
      },
      sinks: parts.sinks,
      deadLetters: parts.deadLetters,
      metrics: this.metrics,
      log: o.log,
      speed: o.speed,
      batchSize: p.batch,
      maxInFlight: p.inFlight,
      lingerMs: o.lingerMs ?? LINGER_MS,
      checkpoints:
        parts.kind === 'kafka'
          ? new RedisCheckpointStore(
              parts.redis!,
              `${config.redis.keyPrefix}:producer:${groupId}:checkpoint`,
            )
          : undefined,
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
      training: parts.training,
      maxWindowValues: config.maxWindowValues,
    });
  }

  private createSource(kind: ReadingSource['kind'], arg: string, kafka?: Kafka): ReadingSource {
    const { config, options: o } = this;
    const maxLineBytes = config.producer.maxLineBytes;
    switch (kind) {
      case 'csv':
        return new CsvSource({
          path: arg,
          streamId: o.streamId,
          columns: o.columns,
          header: o.header ?? CSV_DEFAULTS.header,
          delimiter: o.delimiter ?? CSV_DEFAULTS.delimiter,
          maxLineBytes,
        });
      case 'ndjson':
        return new NdjsonSource({
          path: arg || '-',
          streamId: o.streamId,
          maxLineBytes,
          input: (arg || '-') === '-' ? o.stdin : undefined,
        });
      case 'synthetic':
        return new SyntheticSource(arg);
      case 'kafka':
        return new KafkaReadingSource({
          kafka: kafka!,
          topic: arg || config.topics.readings,
          groupId: o.groupId ?? config.producer.groupId,
          fromBeginning: o.fromBeginning,
          streamId: o.streamId,
          maxMessageBytes: maxLineBytes,
          idleExitMs: o.idleExitMs,
        });
    }
  }

  /** Produces until the source ends or `signal` aborts; resolves with the final stats. */
  async run(signal?: AbortSignal): Promise<PipelineStats> {
    const onAbort = () => this.abort.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) this.abort.abort();
    try {
      for (const check of this.checks.splice(0)) await check();
      return await this.pipeline.run(this.source, this.abort.signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Stops reading (what was read is still sent by `run`). */
  stop(): void {
    this.abort.abort();
  }

  /** Closes the source, the sinks and the connections. */
  close(): Promise<void> {
    return this.scope.close();
  }
}
