import { z } from 'zod';
import { ConfigError } from '../errors/index.js';

/**
 * Every setting of seqae, read from environment variables once at the edge of a process and passed
 * down typed. A CLI flag overrides its variable (see `loadConfig`'s `overrides`). Each entry names its
 * variable so that a bad value is reported as `VARIABLE: what is wrong`.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);
const list = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string()).min(1));
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');

const settings = {
  logLevel: [
    'SEQAE_LOG_LEVEL',
    z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    'info',
  ],
  redisUrl: [
    'REDIS_URL',
    z.string().regex(/^rediss?:\/\/.+/, 'expected redis://host:port[/db] or rediss://…'),
    'redis://127.0.0.1:6379',
  ],
  redisPassword: ['REDIS_PASSWORD', z.string().min(1).optional(), undefined],
  redisTls: ['REDIS_TLS', bool, 'false'],
  redisTlsCa: ['REDIS_TLS_CA', z.string().min(1).optional(), undefined],
  kafkaBrokers: ['KAFKA_BROKERS', list.pipe(z.array(hostPort)), '127.0.0.1:9092'],
  kafkaClientId: ['KAFKA_CLIENT_ID', z.string().min(1), 'seqae'],
  kafkaSsl: ['KAFKA_SSL', bool, 'false'],
  kafkaSslCa: ['KAFKA_SSL_CA', z.string().min(1).optional(), undefined],
  kafkaSaslMechanism: [
    'KAFKA_SASL_MECHANISM',
    z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    undefined,
  ],
  kafkaSaslUsername: ['KAFKA_SASL_USERNAME', z.string().min(1).optional(), undefined],
  kafkaSaslPassword: ['KAFKA_SASL_PASSWORD', z.string().min(1).optional(), undefined],
  topicPrefix: [
    'SEQAE_TOPIC_PREFIX',
    z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, . _ - only'),
    'seqae.',
  ],
  queuePrefix: [
    'SEQAE_QUEUE_PREFIX',
    z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, . _ - only'),
    'seqae-',
  ],
  bullPrefix: [
    'SEQAE_BULL_PREFIX',
    z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ - only'),
    'bull',
  ],
  keyPrefix: [
    'SEQAE_KEY_PREFIX',
    z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only'),
    'seqae',
  ],
  backend: ['SEQAE_BACKEND', z.enum(['auto', 'onnx', 'node', 'wasm', 'cpu']), 'auto'],
  httpHost: ['SEQAE_HTTP_HOST', z.string().min(1), '127.0.0.1'],
  httpPort: ['SEQAE_HTTP_PORT', int(0, 65535), '9464'],
  // Workers (see SeqaeConfig['worker'] for what each means).
  roles: [
    'SEQAE_ROLES',
    list.pipe(z.array(z.enum(['train', 'stream', 'infer']))),
    'train,stream,infer',
  ],
  concurrency: ['SEQAE_CONCURRENCY', int(1, 256), '1'],
  trainPool: ['SEQAE_TRAIN_POOL', int(1, 64), '1'],
  groupId: ['SEQAE_GROUP_ID', z.string().min(1), 'seqae-stream'],
  sessionTimeoutMs: ['SEQAE_SESSION_TIMEOUT_MS', int(6000, 3_600_000), '30000'],
  modelGroup: [
    'SEQAE_MODEL_GROUP',
    z
      .string()
      .regex(/^[^\s:]+$/, 'no whitespace or ":"')
      .optional(),
    undefined,
  ],
  warmupWindows: ['SEQAE_WARMUP_WINDOWS', int(2), '256'],
  retrainEvery: ['SEQAE_RETRAIN_EVERY', int(0), '0'],
  trainWindows: ['SEQAE_TRAIN_WINDOWS', int(2), '2048'],
  pendingLimit: ['SEQAE_PENDING_LIMIT', int(1), '100000'],
  batchMax: ['SEQAE_BATCH_MAX', int(1, 65536), '256'],
  batchWaitMs: ['SEQAE_BATCH_WAIT_MS', int(1, 60000), '100'],
  modelCache: ['SEQAE_MODEL_CACHE', int(1, 100000), '64'],
  modelKeep: ['SEQAE_MODEL_KEEP', int(1, 1000), '5'],
  onnxThreads: ['SEQAE_ONNX_THREADS', int(0, 1024), '0'],
  variant: ['SEQAE_VARIANT', z.enum(['reconstruction', 'prediction', 'composite']), 'composite'],
  units: ['SEQAE_UNITS', int(1, 4096), '100'],
  epochs: ['SEQAE_EPOCHS', int(1, 100000), '50'],
  trainBatchSize: ['SEQAE_TRAIN_BATCH_SIZE', int(1, 65536), '32'],
  learningRate: ['SEQAE_LEARNING_RATE', z.coerce.number().positive().max(10), '0.001'],
  normalisation: ['SEQAE_NORMALISATION', z.enum(['zscore', 'minmax', 'none']), 'zscore'],
  inferPublish: ['SEQAE_INFER_PUBLISH', bool, 'true'],
  shutdownTimeoutMs: ['SEQAE_SHUTDOWN_TIMEOUT_MS', int(100, 600000), '20000'],
  // Producers (see SeqaeConfig['producer']).
  sinks: ['SEQAE_SINKS', list.pipe(z.array(z.enum(['kafka', 'bullmq']))), 'kafka'],
  window: ['SEQAE_WINDOW', int(1, 4096), '9'],
  stride: ['SEQAE_STRIDE', int(1, 1_000_000), '1'],
  reorder: ['SEQAE_REORDER', int(0, 100_000), '0'],
  gaps: ['SEQAE_GAPS', z.enum(['ignore', 'skip', 'fill']), 'ignore'],
  maxFill: ['SEQAE_MAX_FILL', int(0, 1_000_000), '10'],
  maxLineBytes: ['SEQAE_MAX_LINE_BYTES', int(64, 64 * 1024 * 1024), '65536'],
  producerBatch: ['SEQAE_PRODUCER_BATCH', int(1, 100_000), '500'],
  producerInFlight: ['SEQAE_PRODUCER_IN_FLIGHT', int(1, 10_000_000), '5000'],
  maxWaiting: ['SEQAE_MAX_WAITING', int(0), '100000'],
  producerGroup: ['SEQAE_PRODUCER_GROUP', z.string().min(1), 'seqae-producer'],
} as const;

type Settings = typeof settings;
export type SettingKey = keyof Settings;
type Parsed<K extends SettingKey> = z.output<Settings[K][1]>;
type Flat = { [K in SettingKey]: Parsed<K> };

export interface SeqaeConfig {
  logLevel: Flat['logLevel'];
  redis: { url: string; password?: string; tls: boolean; tlsCa?: string; keyPrefix: string };
  kafka: {
    brokers: string[];
    clientId: string;
    ssl: boolean;
    sslCa?: string;
    sasl?: {
      mechanism: NonNullable<Flat['kafkaSaslMechanism']>;
      username: string;
      password: string;
    };
  };
  topics: Topics;
  queues: Queues;
  backend: Flat['backend'];
  http: { host: string; port: number };
  worker: WorkerSettings;
  producer: ProducerSettings;
}

export interface ProducerSettings {
  /** Where windows go: `kafka` (topic windows), `bullmq` (queue infer), or both. Default kafka. */
  sinks: ('kafka' | 'bullmq')[];
  /** Readings per window (nIn). Default 9, the seed model's. */
  window: number;
  /** Readings between the ends of consecutive windows. Default 1. */
  stride: number;
  /** Readings held per stream to reorder out-of-order input. Default 0. */
  reorder: number;
  /** Gap policy: ignore (readings as a sequence), skip (restart windows), fill (forward-fill). */
  gaps: 'ignore' | 'skip' | 'fill';
  /** Most readings forward-filled in one gap (gaps fill). Default 10. */
  maxFill: number;
  /** Longest CSV/NDJSON line or Kafka reading, bytes; longer goes to the DLQ. Default 65536. */
  maxLineBytes: number;
  /** Windows per send to a sink. Default 500. */
  batch: number;
  /** Windows sent and not yet acknowledged before reading pauses. Default 5000. */
  inFlight: number;
  /** Waiting jobs in the infer queue at which the producer waits; 0 = no ceiling. Default 100000. */
  maxWaiting: number;
  /** Consumer group of producers reading the readings topic. Default seqae-producer. */
  groupId: string;
}

export type Role = 'train' | 'stream' | 'infer';

export interface WorkerSettings {
  /** Which roles this process takes. Default all three. */
  roles: Role[];
  /** Infer jobs processed at once. Default 1. */
  concurrency: number;
  /** Training child processes (parallel training jobs). Default 1. */
  trainPool: number;
  /** Kafka consumer group of the stream workers. Default `seqae-stream`. */
  groupId: string;
  /** Kafka group session timeout: how soon a dead stream worker's partitions move, ms. Default 30000. */
  sessionTimeoutMs: number;
  /** When set, every stream shares the model of this id; by default each stream has its own. */
  modelGroup?: string;
  /** Windows a stream's model waits for before its first training. Default 256. */
  warmupWindows: number;
  /** Retrain after this many further windows; 0 never retrains. Default 0. */
  retrainEvery: number;
  /** Most recent windows kept per model for (re)training. Default 2048. */
  trainWindows: number;
  /** Most windows held per model while it has no version yet; beyond, windows go to the DLQ. */
  pendingLimit: number;
  /** Most windows scored in one micro-batch. Default 256. */
  batchMax: number;
  /** Longest wait for a micro-batch to fill (the Kafka fetch wait), ms. Default 100. */
  batchWaitMs: number;
  /** Loaded models kept (LRU; evicted ones are disposed). Default 64. */
  modelCache: number;
  /** Versions kept per model in the registry. Default 5. */
  modelKeep: number;
  /** ONNX Runtime's threads per scoring pass when it scores (see SEQAE_BACKEND); 0 = one per CPU. */
  onnxThreads: number;
  /** The model trained for streams (defaults of training jobs). */
  model: {
    variant: 'reconstruction' | 'prediction' | 'composite';
    units: number;
    epochs: number;
    batchSize: number;
    learningRate: number;
    normalisation: 'zscore' | 'minmax' | 'none';
  };
  /** Whether infer workers also publish outputs to the output topics. Default true. */
  inferPublish: boolean;
  /** Longest graceful shutdown before in-flight work is handed back, ms. Default 20000. */
  shutdownTimeoutMs: number;
}

export interface Topics {
  readings: string;
  windows: string;
  reconstructions: string;
  predictions: string;
  embeddings: string;
  anomalies: string;
  dlq: string;
}

export interface Queues {
  /** BullMQ key prefix in Redis (BullMQ's own `prefix` option). */
  prefix: string;
  infer: string;
  train: string;
}

/** Topic names for a prefix: `seqae.` gives `seqae.windows`, `seqae.dlq`, … */
export function topicNames(prefix: string): Topics {
  const t = (name: string) => `${prefix}${name}`;
  return {
    readings: t('readings'),
    windows: t('windows'),
    reconstructions: t('reconstructions'),
    predictions: t('predictions'),
    embeddings: t('embeddings'),
    anomalies: t('anomalies'),
    dlq: t('dlq'),
  };
}

/** The names of every setting's environment variable, for docs and `--help`. */
export const settingVariables: Readonly<Record<SettingKey, string>> = Object.fromEntries(
  Object.entries(settings).map(([k, [v]]) => [k, v]),
) as Record<SettingKey, string>;

/**
 * Reads and validates the whole configuration. `overrides` (CLI flags) win over `env`; both are keyed
 * by variable name. Throws a ConfigError naming the first bad variable.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Record<string, string | undefined> = {},
): SeqaeConfig {
  const flat = {} as Record<string, unknown>;
  for (const [key, [variable, schema, fallback]] of Object.entries(settings)) {
    const raw = overrides[variable] ?? env[variable];
    const value = raw === undefined || raw === '' ? fallback : raw;
    const result = (schema as z.ZodType).safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new ConfigError(
        variable,
        `${issue?.message ?? 'invalid'} (got ${JSON.stringify(raw)})`,
      );
    }
    flat[key] = result.data;
  }
  const f = flat as Flat;

  let sasl: SeqaeConfig['kafka']['sasl'];
  if (f.kafkaSaslMechanism) {
    if (!f.kafkaSaslUsername)
      throw new ConfigError('KAFKA_SASL_USERNAME', 'required when KAFKA_SASL_MECHANISM is set');
    if (!f.kafkaSaslPassword)
      throw new ConfigError('KAFKA_SASL_PASSWORD', 'required when KAFKA_SASL_MECHANISM is set');
    sasl = {
      mechanism: f.kafkaSaslMechanism,
      username: f.kafkaSaslUsername,
      password: f.kafkaSaslPassword,
    };
  }

  return {
    logLevel: f.logLevel,
    redis: {
      url: f.redisUrl,
      password: f.redisPassword,
      tls: f.redisTls || f.redisUrl.startsWith('rediss://'),
      tlsCa: f.redisTlsCa,
      keyPrefix: f.keyPrefix,
    },
    kafka: {
      brokers: f.kafkaBrokers,
      clientId: f.kafkaClientId,
      ssl: f.kafkaSsl,
      sslCa: f.kafkaSslCa,
      sasl,
    },
    topics: topicNames(f.topicPrefix),
    queues: {
      prefix: f.bullPrefix,
      infer: `${f.queuePrefix}infer`,
      train: `${f.queuePrefix}train`,
    },
    backend: f.backend,
    http: { host: f.httpHost, port: f.httpPort },
    worker: {
      roles: f.roles,
      concurrency: f.concurrency,
      trainPool: f.trainPool,
      groupId: f.groupId,
      sessionTimeoutMs: f.sessionTimeoutMs,
      modelGroup: f.modelGroup,
      warmupWindows: f.warmupWindows,
      retrainEvery: f.retrainEvery,
      trainWindows: Math.max(f.trainWindows, 2),
      pendingLimit: f.pendingLimit,
      batchMax: f.batchMax,
      batchWaitMs: f.batchWaitMs,
      modelCache: f.modelCache,
      modelKeep: f.modelKeep,
      onnxThreads: f.onnxThreads,
      model: {
        variant: f.variant,
        units: f.units,
        epochs: f.epochs,
        batchSize: f.trainBatchSize,
        learningRate: f.learningRate,
        normalisation: f.normalisation,
      },
      inferPublish: f.inferPublish,
      shutdownTimeoutMs: f.shutdownTimeoutMs,
    },
    producer: {
      sinks: [...new Set(f.sinks)],
      window: f.window,
      stride: f.stride,
      reorder: f.reorder,
      gaps: f.gaps,
      maxFill: f.maxFill,
      maxLineBytes: f.maxLineBytes,
      batch: f.producerBatch,
      inFlight: Math.max(f.producerInFlight, f.producerBatch),
      maxWaiting: f.maxWaiting,
      groupId: f.producerGroup,
    },
  };
}
