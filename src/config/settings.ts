import { z } from 'zod';

/**
 * Every setting of seqae, each declared once: where it sits in SeqaeConfig (its place in `settings`),
 * its environment variable, its flag, how its text is parsed, its default and what it means. The
 * config type, the environment loader, the flags and `--help` of each command and docs/settings.md's
 * settings tables (`npm run docs:settings`) all come from these declarations.
 */

/** The commands that take settings. */
export type CommandName =
  'worker' | 'produce' | 'train' | 'infer' | 'models' | 'report' | 'demo' | 'feedback';

/** The commands that serve /metrics, /healthz, /readyz. */
export type ServingCommand = 'worker' | 'produce';

/** Each command its own port, so that a worker and a producer run side by side on one host. */
export const DEFAULT_HTTP_PORT: Record<ServingCommand, number> = { worker: 9464, produce: 9465 };

export interface Setting<S extends z.ZodType = z.ZodType> {
  /** Environment variable; absent for the options of one `produce` run, which are flags only. */
  env?: string;
  /** Former names of `env`: still read, with a deprecation line in the log. */
  formerEnv?: readonly string[];
  /** Flag of the commands that take it (`--batch <n>`); absent for variables only. */
  flag?: string;
  /** Parses the variable's or the flag's text. */
  schema: S;
  /** The default as the variable would be written; absent: unset. */
  default?: string;
  /** One line for `--help` and the README. */
  description: string;
  /** Which commands take it. */
  commands: 'all' | CommandName | readonly CommandName[];
  /** The flag must be given (options of one run only). */
  required?: boolean;
  /** A credential: its value is never shown (logs, errors). */
  secret?: boolean;
}

/** A setting of SeqaeConfig: it always has a variable. */
type ConfigSetting<S extends z.ZodType> = Setting<S> & { env: string };
const setting = <S extends z.ZodType>(s: ConfigSetting<S>): ConfigSetting<S> => s;
/** An option of one run (of `produce` unless said): a flag only, outside SeqaeConfig. */
const runOption = <S extends z.ZodType>(
  s: Omit<Setting<S>, 'env' | 'formerEnv' | 'commands'> & {
    flag: string;
    commands?: Setting['commands'];
  },
): Setting<S> => ({ commands: 'produce', ...s });

/** The worker's model and training settings, also those of a one-off `seqae train`. */
const TRAINING: CommandName[] = ['worker', 'train'];
/** The producer's windowing and input settings, also those of `seqae train` and `seqae infer`. */
const WINDOWING: CommandName[] = ['produce', 'train', 'infer'];

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
const name = (chars: RegExp, what: string) => z.string().regex(chars, what);
const optionalText = z.string().min(1).optional();

export const settings = {
  logLevel: setting({
    env: 'SEQAE_LOG_LEVEL',
    flag: '--log-level <level>',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    default: 'info',
    description:
      'pino level: trace, debug, info, warn, error, fatal, silent (JSON lines on stderr)',
    commands: 'all',
  }),
  redis: {
    url: setting({
      env: 'REDIS_URL',
      flag: '--redis-url <url>',
      schema: z.string().regex(/^rediss?:\/\/.+/, 'expected redis://host:port[/db] or rediss://…'),
      default: 'redis://127.0.0.1:6379',
      description: 'Redis URL (rediss:// for TLS)',
      commands: 'all',
    }),
    password: setting({
      env: 'REDIS_PASSWORD',
      schema: optionalText,
      secret: true,
      description: 'Redis password',
      commands: 'all',
    }),
    tls: setting({
      env: 'REDIS_TLS',
      schema: bool,
      default: 'false',
      description: 'Redis over TLS (always for rediss:// URLs)',
      commands: 'all',
    }),
    tlsCa: setting({
      env: 'REDIS_TLS_CA',
      schema: optionalText,
      description: "file of the CA certificate (PEM) that Redis's TLS certificate is checked with",
      commands: 'all',
    }),
    autoPipelining: setting({
      env: 'REDIS_AUTOPIPELINING',
      schema: bool,
      default: 'true',
      description:
        "a worker's Redis commands of one event-loop tick (BullMQ's job completions, the window store's writes) sent to Redis as one pipeline (ioredis enableAutoPipelining; blocking commands excepted)",
      commands: 'worker',
    }),
    keyPrefix: setting({
      env: 'SEQAE_KEY_PREFIX',
      flag: '--key-prefix <prefix>',
      schema: name(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only'),
      default: 'seqae',
      description: "prefix of seqae's own Redis keys (model registry, window buffers, leases)",
      commands: 'all',
    }),
  },
  kafka: {
    brokers: setting({
      env: 'KAFKA_BROKERS',
      flag: '--kafka-brokers <list>',
      schema: list.pipe(z.array(hostPort)),
      default: '127.0.0.1:9092',
      description: 'Kafka bootstrap brokers, host:port,…',
      commands: 'all',
    }),
    clientId: setting({
      env: 'KAFKA_CLIENT_ID',
      flag: '--client-id <id>',
      schema: z.string().min(1),
      default: 'seqae',
      description: 'Kafka client id',
      commands: 'all',
    }),
    ssl: setting({
      env: 'KAFKA_SSL',
      schema: bool,
      default: 'false',
      description: 'Kafka over TLS',
      commands: 'all',
    }),
    sslCa: setting({
      env: 'KAFKA_SSL_CA',
      schema: optionalText,
      description:
        "file of the CA certificate (PEM) that Kafka's TLS certificates are checked with",
      commands: 'all',
    }),
    topicPartitions: setting({
      env: 'SEQAE_TOPIC_PARTITIONS',
      flag: '--topic-partitions <n>',
      schema: int(1, 10_000),
      default: '12',
      description:
        'partitions of the topics seqae creates: the most stream workers that share the windows topic (existing topics keep theirs)',
      commands: 'all',
    }),
    compression: setting({
      env: 'KAFKA_COMPRESSION',
      schema: z.enum(['none', 'gzip']),
      default: 'none',
      description:
        "codec of the records seqae produces: none, or gzip (fewer bytes on the wire, but kafkajs gzips on the event loop, a sixth of a stream worker's CPU)",
      commands: 'all',
    }),
    producerClient: setting({
      env: 'KAFKA_PRODUCER_CLIENT',
      schema: z.enum(['kafkajs', 'platformatic']),
      default: 'platformatic',
      description:
        "Kafka client that produces seqae's records (windows, outputs, dead letters): platformatic (@platformatic/kafka, a fifth less CPU a window end to end), or kafkajs (same partitions, acks and limits; docs/transport.md has the measurement)",
      commands: 'all',
    }),
    maxRequestBytes: setting({
      env: 'KAFKA_MAX_REQUEST_BYTES',
      schema: int(1024, 100 * 1024 * 1024),
      default: '524288',
      description:
        "most bytes (before compression) in one produce request: keep under the broker's message.max.bytes (1 MB by default); larger sends are split",
      commands: 'all',
    }),
    // All three or none (checked when the configuration is resolved).
    sasl: {
      mechanism: setting({
        env: 'KAFKA_SASL_MECHANISM',
        schema: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
        description: 'Kafka SASL mechanism: plain, scram-sha-256, scram-sha-512',
        commands: 'all',
      }),
      username: setting({
        env: 'KAFKA_SASL_USERNAME',
        schema: optionalText,
        description: 'Kafka SASL user (required with a mechanism)',
        commands: 'all',
      }),
      password: setting({
        env: 'KAFKA_SASL_PASSWORD',
        schema: optionalText,
        secret: true,
        description: 'Kafka SASL password (required with a mechanism)',
        commands: 'all',
      }),
    },
  },
  topics: {
    prefix: setting({
      env: 'SEQAE_TOPIC_PREFIX',
      flag: '--topic-prefix <prefix>',
      schema: name(/^[A-Za-z0-9._-]*$/, 'letters, digits, . _ - only'),
      default: 'seqae.',
      description: 'prefix of every topic name (<prefix>windows, <prefix>dlq, …)',
      commands: 'all',
    }),
  },
  queues: {
    namePrefix: setting({
      env: 'SEQAE_QUEUE_PREFIX',
      flag: '--queue-prefix <prefix>',
      schema: name(/^[A-Za-z0-9._-]*$/, 'letters, digits, . _ - only'),
      default: 'seqae-',
      description: 'prefix of the BullMQ queue names (<prefix>infer, <prefix>train)',
      commands: 'all',
    }),
    prefix: setting({
      env: 'SEQAE_BULLMQ_KEY_PREFIX',
      formerEnv: ['SEQAE_BULL_PREFIX'],
      schema: name(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ - only'),
      default: 'bull',
      description: "Redis key prefix of BullMQ's queues (BullMQ's own `prefix` option)",
      commands: 'all',
    }),
  },
  dlqOriginalMaxBytes: setting({
    env: 'SEQAE_DLQ_ORIGINAL_MAX_BYTES',
    schema: int(0, 524_288),
    default: '65536',
    description:
      'most bytes of the original input kept in a dead letter; a longer one is cut and the dead letter gives its length and SHA-256',
    commands: 'all',
  }),
  outputEncoding: setting({
    env: 'SEQAE_OUTPUT_ENCODING',
    schema: z.enum(['f32b64', 'json']),
    default: 'f32b64',
    description:
      'numbers on the reconstructions, predictions and embeddings topics: f32b64 (base64 of little-endian float32, output version 2, header seqae-encoding) or json (version 1); anomalies are always JSON',
    commands: 'worker',
  }),
  maxWindowValues: setting({
    env: 'SEQAE_MAX_WINDOW_VALUES',
    schema: int(1, 1_000_000),
    default: '65536',
    description:
      'most numbers in one window (nIn × features): workers dead-letter larger windows, and messages longer than such a window can be, as too_large; producers refuse readings that would make one',
    commands: 'all',
  }),
  incidentGap: setting({
    env: 'SEQAE_INCIDENT_GAP',
    flag: '--incident-gap <windows>',
    schema: int(0, 1_000_000),
    default: '30',
    description:
      "windows between alerts that still make one incident (a stream's next alert within this many windows, another stream's within this many of its steps); the report's incidents table and the demo's INCIDENT lines",
    commands: ['report', 'demo'],
  }),
  backend: setting({
    env: 'SEQAE_BACKEND',
    flag: '--backend <name>',
    schema: z.enum(['auto', 'onnx', 'node', 'wasm', 'cpu']),
    default: 'auto',
    description: 'compute backend: auto, onnx (score on ONNX Runtime), node, wasm, cpu',
    commands: 'all',
  }),
  http: {
    host: setting({
      env: 'SEQAE_HTTP_HOST',
      flag: '--http-host <host>',
      schema: z.string().min(1),
      default: '127.0.0.1',
      description: 'bind address of /metrics, /healthz, /readyz',
      commands: 'all',
    }),
    port: setting({
      env: 'SEQAE_HTTP_PORT',
      flag: '--http-port <port>',
      schema: int(0, 65535).optional(),
      description: `port of /metrics, /healthz, /readyz: by default ${DEFAULT_HTTP_PORT.worker} for a worker, ${DEFAULT_HTTP_PORT.produce} for a producer, so both run on one host (0: any free one)`,
      commands: 'all',
    }),
  },
  worker: {
    roles: setting({
      env: 'SEQAE_ROLES',
      flag: '--roles <list>',
      schema: list.pipe(z.array(z.enum(['train', 'stream', 'infer']))),
      default: 'train,stream,infer',
      description: 'roles of this process: train,stream,infer',
      commands: 'worker',
    }),
    concurrency: setting({
      env: 'SEQAE_CONCURRENCY',
      flag: '--concurrency <n>',
      schema: int(1, 256),
      default: '1',
      description: 'infer jobs processed at once',
      commands: 'worker',
    }),
    trainPool: setting({
      env: 'SEQAE_TRAIN_POOL',
      flag: '--train-pool <n>',
      schema: int(1, 64).optional(),
      description:
        "training child processes (parallel training jobs); default: one per CPU core, so a fleet's first models train side by side",
      commands: 'worker',
    }),
    anomaly: {
      scoring: setting({
        env: 'SEQAE_ANOMALY_SCORING',
        schema: z.enum(['likelihood', 'training-z']),
        default: 'likelihood',
        description:
          "how errors become a score: likelihood (each stream's errors against its own history, short- vs long-term, plus value and spread range checks; NAB 61.35 standard on 37 files with the worker defaults) or training-z (the model's training errors; NAB 0)",
        commands: ['worker', 'infer'],
      }),
      shortWindow: setting({
        env: 'SEQAE_ANOMALY_SHORT_WINDOW',
        schema: int(1, 10_000),
        default: '20',
        description: 'likelihood: windows averaged for the short-term error level',
        commands: ['worker', 'infer'],
      }),
      warmup: setting({
        env: 'SEQAE_ANOMALY_WARMUP',
        schema: int(1, 1_000_000),
        default: '200',
        description:
          "likelihood: windows a stream's errors need before they score, and readings its ranges need before they judge (a fresh range's first records are ordinary)",
        commands: ['worker', 'infer'],
      }),
      rangeMargin: setting({
        env: 'SEQAE_ANOMALY_RANGE_MARGIN',
        schema: z.coerce.number().max(10),
        default: '0.05',
        description:
          "likelihood: part of a seen range's width (the values', the spreads') a window may go past it before it alerts with score 1 (<= 0: both range checks off)",
        commands: ['worker', 'infer'],
      }),
      spreadWindow: setting({
        env: 'SEQAE_ANOMALY_SPREAD_WINDOW',
        schema: int(0, 10_000),
        default: '30',
        description:
          "likelihood: readings whose mean absolute change is a stream's local spread; a spread outside the spreads seen so far (a stream gone flat, or noisier than ever) alerts (0: off)",
        commands: ['worker', 'infer'],
      }),
      rangeTail: setting({
        env: 'SEQAE_ANOMALY_RANGE_TAIL',
        schema: z.coerce.number().gt(0).max(1),
        default: '0.1',
        description:
          "likelihood: chance of a range exit under the stream's record history (its record rate times the chance of an exit that far) at which the score reaches 0.5; the alert asks SEQAE_ALERT_RANGE_TAIL",
        commands: ['worker', 'infer'],
      }),
      recordHorizon: setting({
        env: 'SEQAE_ANOMALY_RECORD_HORIZON',
        schema: z.coerce.number().min(1).max(1e9),
        default: '1',
        description:
          'likelihood: readings over which a range with no record yet is given one (its prior record rate is 1 / this); higher: the first exits of a fresh range alert sooner',
        commands: ['worker', 'infer'],
      }),
      peakWindow: setting({
        env: 'SEQAE_ANOMALY_PEAK_WINDOW',
        schema: int(0, 10_000),
        default: '32',
        description:
          "likelihood: windows over which the one-step prediction error's local level is taken for the alert's peak check (a spike the model did not foresee, against the errors just before it; 0: off)",
        commands: ['worker', 'infer'],
      }),
      peakTail: setting({
        env: 'SEQAE_ANOMALY_PEAK_TAIL',
        schema: z.coerce.number().gt(0).max(1),
        default: '1e-5',
        description:
          "likelihood: chance, under the stream's own peaks over threshold, of a prediction error that far above its local level from which it alerts; such a peak does not join the stream's peaks, so a repeated spike alerts as the first did",
        commands: ['worker', 'infer'],
      }),
      peakCorroboration: setting({
        env: 'SEQAE_ALERT_PEAK_CORROBORATION',
        schema: z.coerce.number().min(0).max(1e6),
        default: '20',
        description:
          "likelihood: how many times its local level a window's reconstruction error must reach to corroborate a peak alert (a spike stands out in its whole window; a forecast gone wrong, such as a random walk turning, does not): a peak alert under SEQAE_ALERT_CORROBORATE_BELOW needs it, and a corroborated peak alerts from SEQAE_ALERT_CORROBORATED_TAIL (<= 1: off)",
        commands: ['worker', 'infer'],
      }),
      corroborateBelow: setting({
        env: 'SEQAE_ALERT_CORROBORATE_BELOW',
        schema: z.coerce.number().min(0.5).max(1.01),
        default: '0.8',
        description:
          'likelihood: alert score from which a peak alert pages without the reconstruction error corroborating it (1.01: every peak alert needs it)',
        commands: ['worker', 'infer'],
      }),
      corroboratedTail: setting({
        env: 'SEQAE_ALERT_CORROBORATED_TAIL',
        schema: z.coerce.number().gt(0).max(1),
        default: '1e-4',
        description:
          "likelihood: chance, under the stream's peaks over threshold, of a corroborated peak from which it alerts (two signs agreeing need less of each; SEQAE_ANOMALY_PEAK_TAIL: no easier than an uncorroborated one)",
        commands: ['worker', 'infer'],
      }),
      recurrences: setting({
        env: 'SEQAE_ALERT_RECURRENCES',
        schema: int(0, 30),
        default: '3',
        description:
          "likelihood: earlier alert events on an even grid (t - L, t - 2L, …, L at least SEQAE_ANOMALY_SHORT_WINDOW windows) that make an event routine: a daily job's spike pages its first times, then no more, while events at random times page every time (0: off)",
        commands: ['worker', 'infer'],
      }),
      recurrenceJitter: setting({
        env: 'SEQAE_ALERT_RECURRENCE_JITTER',
        schema: z.coerce.number().min(0).max(0.5),
        default: '0.02',
        description:
          'likelihood: how far each earlier event may fall from its grid point, as a fraction of the period (0.02: a daily job that drifts by half an hour)',
        commands: ['worker', 'infer'],
      }),
      alertRangeTail: setting({
        env: 'SEQAE_ALERT_RANGE_TAIL',
        schema: z.coerce.number().gt(0).max(1),
        default: '1e-4',
        description:
          "likelihood: chance of a range or spread exit under the stream's record history from which it alerts (the score grades exits from SEQAE_ANOMALY_RANGE_TAIL); lower: fewer pages for new highs of streams that set records now and then",
        commands: ['worker', 'infer'],
      }),
      alertLevelTail: setting({
        env: 'SEQAE_ALERT_LEVEL_TAIL',
        schema: z.coerce.number().gt(0).max(1),
        default: '1e-9',
        description:
          "likelihood: Gaussian tail of the errors' short-term level from which it alerts (the score is 0.5 at 1e-5); lower: fewer pages for errors that rise for a while",
        commands: ['worker', 'infer'],
      }),
      alertWarmup: setting({
        env: 'SEQAE_ALERT_WARMUP',
        schema: int(1, 1_000_000),
        default: '50',
        description:
          'likelihood: readings before a value far past the range a stream has covered alerts (the score waits SEQAE_ANOMALY_WARMUP); until then an exit is weighed against a prior of one record per reading, so a spike in a fresh stream pages and its first records do not',
        commands: ['worker', 'infer'],
      }),
      coolDown: setting({
        env: 'SEQAE_ANOMALY_COOL_DOWN',
        schema: int(1, 1_000_000),
        default: '1',
        description:
          "likelihood: windows after a stream's alert during which its alerts report at most the after-alert score (about 0.3, no alert); 1: only a run of consecutive alerts is cut to its first",
        commands: ['worker', 'infer'],
      }),
      scoreHold: setting({
        env: 'SEQAE_ANOMALY_SCORE_HOLD',
        schema: z.coerce.number().gt(0).max(1),
        default: '0.1',
        description:
          "likelihood: the score's hysteresis: after a score from 0.5, the stream's alert episode lasts while its windows' tail stays at or below this (0.1: until its errors are back to ordinary), and a new score from 0.5 within it reports the after-alert score (about 0.3); 1e-5 (the alert line): an episode is a run of scores from 0.5. The score only (what NAB reads), not the alert",
        commands: ['worker', 'infer'],
      }),
      alertThreshold: setting({
        env: 'SEQAE_ALERT_THRESHOLD',
        schema: z.coerce.number().min(0).max(1),
        default: '0.5',
        description:
          "alert score from which a window is an alert (`alert: true` on the anomalies topic, seqae_anomaly_alerts_total); the likelihood scoring's alert score asks more than its score (SEQAE_ALERT_RANGE_TAIL, SEQAE_ALERT_LEVEL_TAIL, the peak check), the training-z scoring's is its score",
        commands: ['worker', 'infer'],
      }),
    },
    feedback: {
      tolerance: setting({
        env: 'SEQAE_FEEDBACK_TOLERANCE',
        schema: z.coerce.number().min(0).max(100),
        default: '0.5',
        description:
          'how much larger than an alert marked false (seqae feedback) an event may be and still be the same pattern, no alert: 0.5 lets its size (root of its errors; for a range alert, its distance from the window median) reach 1.5 times the marked one',
        commands: 'worker',
      }),
      expiryHours: setting({
        env: 'SEQAE_FEEDBACK_EXPIRY_HOURS',
        schema: z.coerce.number().min(0),
        default: '0',
        description: 'hours after which a false-alarm mark stops counting (0: never)',
        commands: 'worker',
      }),
      perStream: setting({
        env: 'SEQAE_FEEDBACK_MARKS_PER_STREAM',
        schema: int(1, 10_000),
        default: '50',
        description:
          'false-alarm marks a worker keeps per stream (the newest; older ones stop counting)',
        commands: 'worker',
      }),
    },
    training: {
      warmStart: setting({
        env: 'SEQAE_WARM_START',
        flag: '--warm-start <bool>',
        schema: bool,
        default: 'true',
        description:
          "start a training from the model's previous version, or else from the newest model of the same shape (another stream's), and fine-tune it for SEQAE_WARM_START_EPOCHS instead of training from scratch",
        commands: TRAINING,
      }),
      warmStartEpochs: setting({
        env: 'SEQAE_WARM_START_EPOCHS',
        schema: int(1, 100000),
        default: '10',
        description: 'most epochs of a warm-started training',
        commands: TRAINING,
      }),
      validationSplit: setting({
        env: 'SEQAE_VALIDATION_SPLIT',
        schema: z.coerce.number().min(0).max(0.5),
        default: '0.1',
        description:
          'part of the training windows held out (the newest) to watch for early stopping (0: none)',
        commands: TRAINING,
      }),
      patience: setting({
        env: 'SEQAE_EARLY_STOPPING_PATIENCE',
        schema: int(0, 10000),
        default: '5',
        description:
          'stop training after this many epochs without a better held-out loss (0: train every epoch)',
        commands: TRAINING,
      }),
    },
    groupId: setting({
      env: 'SEQAE_GROUP_ID',
      flag: '--group-id <id>',
      schema: z.string().min(1).optional(),
      description:
        'Kafka consumer group of the stream workers (default: <topic prefix>stream, e.g. seqae-stream, so that another topic prefix is another group)',
      commands: 'worker',
    }),
    sessionTimeoutMs: setting({
      env: 'SEQAE_SESSION_TIMEOUT_MS',
      schema: int(6000, 3_600_000),
      default: '30000',
      description:
        "Kafka group session timeout: how soon a dead stream worker's partitions move, ms",
      commands: 'worker',
    }),
    modelGroup: setting({
      env: 'SEQAE_MODEL_GROUP',
      flag: '--model-group <id>',
      schema: z
        .string()
        .regex(/^[^\s:]+$/, 'no whitespace or ":"')
        .optional(),
      description: 'one shared model, with this id, for every stream instead of one per stream',
      commands: 'worker',
    }),
    warmupWindows: setting({
      env: 'SEQAE_WARMUP_WINDOWS',
      flag: '--warmup-windows <n>',
      schema: int(2),
      default: '256',
      description:
        "windows a stream's model waits for before its first training, which learns from exactly these first windows however fast they arrived",
      commands: 'worker',
    }),
    retrainEvery: setting({
      env: 'SEQAE_RETRAIN_EVERY',
      flag: '--retrain-every <n>',
      schema: int(0),
      default: '0',
      description: 'retrain after this many further windows (0: never)',
      commands: 'worker',
    }),
    trainWindows: setting({
      env: 'SEQAE_TRAIN_WINDOWS',
      flag: '--train-windows <n>',
      schema: int(2),
      default: '2048',
      description: 'most recent windows kept per model for (re)training',
      commands: 'worker',
    }),
    pendingLimit: setting({
      env: 'SEQAE_PENDING_LIMIT',
      schema: int(1),
      default: '100000',
      description: 'windows held per model before its first version; more go to the DLQ',
      commands: 'worker',
    }),
    batchMax: setting({
      env: 'SEQAE_BATCH_MAX',
      flag: '--batch-max <n>',
      schema: int(1, 65536),
      default: '256',
      description: 'most windows scored in one micro-batch',
      commands: 'worker',
    }),
    partitionsConcurrently: setting({
      env: 'SEQAE_PARTITIONS_CONCURRENTLY',
      schema: int(1, 10_000),
      default: '12',
      description:
        'windows-topic partitions a stream worker consumes at once; their slices share model calls and output sends',
      commands: 'worker',
    }),
    batchWaitMs: setting({
      env: 'SEQAE_BATCH_WAIT_MS',
      flag: '--batch-wait-ms <ms>',
      schema: int(1, 60000),
      default: '100',
      description: 'longest wait for a micro-batch to fill (the Kafka fetch wait), ms',
      commands: 'worker',
    }),
    modelCache: setting({
      env: 'SEQAE_MODEL_CACHE',
      schema: int(1, 100000),
      default: '64',
      description: 'loaded models kept (LRU; evicted ones are disposed)',
      commands: 'worker',
    }),
    modelKeep: setting({
      env: 'SEQAE_MODEL_KEEP',
      schema: int(1, 1000),
      default: '5',
      description: 'versions kept per model in the model registry',
      commands: TRAINING,
    }),
    onnxThreads: setting({
      env: 'SEQAE_ONNX_THREADS',
      flag: '--onnx-threads <n>',
      schema: int(0, 1024),
      default: '0',
      description: 'ONNX Runtime threads per scoring pass when it scores (0: one per CPU)',
      commands: ['worker', 'infer'],
    }),
    onnxOwnThread: setting({
      env: 'SEQAE_ONNX_OWN_THREAD',
      schema: bool,
      default: 'false',
      description:
        "a worker's ONNX Runtime model calls on a thread of their own (onnxruntime-node blocks its calling thread for the whole call); off by default: on 2 cores shared with the broker and the producer it measured no faster, it can help where a worker has cores to spare",
      commands: 'worker',
    }),
    // The model trained for streams: the defaults of training jobs (nIn and features come from the
    // windows).
    model: {
      variant: setting({
        env: 'SEQAE_VARIANT',
        flag: '--variant <name>',
        schema: z.enum(['reconstruction', 'prediction', 'composite']),
        default: 'composite',
        description: 'model trained for streams: composite, reconstruction, prediction',
        commands: TRAINING,
      }),
      units: setting({
        env: 'SEQAE_UNITS',
        flag: '--units <n>',
        schema: int(1, 4096),
        default: '100',
        description: 'LSTM units (and embedding length) of the model trained for streams',
        commands: TRAINING,
      }),
      // 50, not the 300 of src/model/config.ts (the seed notebook's, kept for the seed examples):
      // a worker trains every stream and retrains it, where a model soon beats a slightly lower loss.
      epochs: setting({
        env: 'SEQAE_EPOCHS',
        flag: '--epochs <n>',
        schema: int(1, 100000),
        default: '50',
        description: 'training epochs of the model trained for streams',
        commands: TRAINING,
      }),
      batchSize: setting({
        env: 'SEQAE_TRAIN_BATCH_SIZE',
        schema: int(1, 65536),
        default: '32',
        description: 'training mini-batch size',
        commands: TRAINING,
      }),
      learningRate: setting({
        env: 'SEQAE_LEARNING_RATE',
        schema: z.coerce.number().positive().max(10),
        default: '0.001',
        description: 'Adam learning rate of training',
        commands: TRAINING,
      }),
      normalisation: setting({
        env: 'SEQAE_NORMALISATION',
        schema: z.enum(['zscore', 'minmax', 'none']),
        default: 'zscore',
        description: 'per-feature scaling fitted on the training windows: zscore, minmax, none',
        commands: TRAINING,
      }),
    },
    inferPublish: setting({
      env: 'SEQAE_INFER_PUBLISH',
      schema: bool,
      default: 'true',
      description: 'infer workers also publish their outputs to the output topics',
      commands: 'worker',
    }),
    inferResult: setting({
      env: 'SEQAE_INFER_RESULT',
      schema: z.enum(['anomaly', 'full']),
      default: 'anomaly',
      description:
        "an infer job's result in Redis: its anomaly output, or every output's payload (full; always when SEQAE_INFER_PUBLISH=false)",
      commands: 'worker',
    }),
    shutdownTimeoutMs: setting({
      env: 'SEQAE_SHUTDOWN_TIMEOUT_MS',
      schema: int(100, 600000),
      default: '20000',
      description: 'longest graceful stop before in-flight jobs are handed back, ms',
      commands: 'worker',
    }),
  },
  producer: {
    sinks: setting({
      env: 'SEQAE_SINKS',
      flag: '--to <sinks>',
      schema: list.pipe(z.array(z.enum(['kafka', 'bullmq']))),
      default: 'kafka',
      description: 'where windows go: kafka (the windows topic), bullmq (the infer queue), or both',
      commands: 'produce',
    }),
    window: setting({
      env: 'SEQAE_WINDOW',
      flag: '--window <n>',
      schema: int(1, 4096),
      default: '9',
      description: "readings per window (nIn; 9 is the seed model's)",
      commands: WINDOWING,
    }),
    stride: setting({
      env: 'SEQAE_STRIDE',
      flag: '--stride <n>',
      schema: int(1, 1_000_000),
      default: '1',
      description: 'readings between the ends of consecutive windows',
      commands: WINDOWING,
    }),
    reorder: setting({
      env: 'SEQAE_REORDER',
      flag: '--reorder <n>',
      schema: int(0, 100_000),
      default: '0',
      description: 'readings held per stream to undo out-of-order input',
      commands: WINDOWING,
    }),
    gaps: setting({
      env: 'SEQAE_GAPS',
      flag: '--gaps <policy>',
      schema: z.enum(['ignore', 'skip', 'fill']),
      default: 'ignore',
      description: 'gaps: ignore, skip (restart windows), fill (forward-fill)',
      commands: WINDOWING,
    }),
    maxFill: setting({
      env: 'SEQAE_MAX_FILL',
      flag: '--max-fill <n>',
      schema: int(0, 1_000_000),
      default: '10',
      description: 'most readings forward-filled in one gap (gaps fill)',
      commands: WINDOWING,
    }),
    maxLineBytes: setting({
      env: 'SEQAE_MAX_LINE_BYTES',
      flag: '--max-line-bytes <n>',
      schema: int(64, 64 * 1024 * 1024),
      default: '65536',
      description: 'longest CSV/NDJSON line or Kafka reading, bytes; longer ones go to the DLQ',
      commands: WINDOWING,
    }),
    batch: setting({
      env: 'SEQAE_PRODUCER_BATCH',
      flag: '--batch <n>',
      schema: int(1, 100_000),
      default: '500',
      description: 'windows per send to a sink',
      commands: 'produce',
    }),
    inFlight: setting({
      env: 'SEQAE_PRODUCER_IN_FLIGHT',
      flag: '--max-in-flight <n>',
      schema: int(1, 10_000_000),
      default: '5000',
      description: 'windows sent and not yet acknowledged before reading pauses (at least --batch)',
      commands: 'produce',
    }),
    maxWaiting: setting({
      env: 'SEQAE_MAX_WAITING',
      flag: '--max-waiting <n>',
      schema: int(0),
      default: '100000',
      description: 'waiting jobs in the infer queue at which the producer waits (0: no ceiling)',
      commands: 'produce',
    }),
    inferBulk: setting({
      env: 'SEQAE_INFER_BULK',
      flag: '--infer-bulk <n>',
      schema: int(1, 10_000),
      default: '1',
      description:
        'windows per infer job: 1, a window job each; more, bulk jobs of up to that many (in the order sent)',
      commands: 'produce',
    }),
    groupId: setting({
      env: 'SEQAE_PRODUCER_GROUP',
      flag: '--group <id>',
      schema: z.string().min(1).optional(),
      description:
        'consumer group of producers reading the readings topic (default: <topic prefix>producer, e.g. seqae-producer)',
      commands: 'produce',
    }),
  },
};

const positive = int(1);
const text = z.string();

/** `--speed`: max (0), realtime (1), or a factor such as 10 or 10x. */
const speed = z.string().transform((v, ctx) => {
  if (v === 'max' || v === 'fast') return 0;
  if (v === 'realtime' || v === 'real-time') return 1;
  const n = Number(v.replace(/x$/i, ''));
  if (Number.isFinite(n) && n >= 0) return n;
  ctx.addIssue({ code: 'custom', message: 'max, realtime, or a factor such as 10 (0 = max)' });
  return z.NEVER;
});

/** `--columns time,a,b`: the timestamp column, then the value columns (names or 0-based indices). */
const columns = list.transform((parts, ctx) => {
  if (parts.length < 2) {
    ctx.addIssue({
      code: 'custom',
      message: 'the timestamp column, then at least one value column',
    });
    return z.NEVER;
  }
  const ref = (s: string) => (/^\d+$/.test(s) ? Number(s) : s);
  return { timestamp: ref(parts[0]!), values: parts.slice(1).map(ref) };
});

/** Run options of every command that reads a CSV or NDJSON input and cuts it into windows. */
const inputShape = {
  columns: runOption({
    commands: WINDOWING,
    flag: '--columns <list>',
    schema: columns,
    description: 'csv: timestamp column, then value columns, by name or index',
  }),
  header: runOption({
    commands: WINDOWING,
    flag: '--no-header',
    schema: z.boolean(),
    description: 'csv: the first line is data, name columns by index',
  }),
  delimiter: runOption({
    commands: WINDOWING,
    flag: '--delimiter <c>',
    schema: text,
    default: ',',
    description: 'csv: field separator',
  }),
  step: runOption({
    commands: WINDOWING,
    flag: '--step <ms>',
    schema: positive,
    description: 'milliseconds between readings (default: inferred per stream)',
  }),
};

/**
 * The options of one `seqae produce` run: flags only (no variables), not part of SeqaeConfig. Each
 * key is the flag's attribute name in commander.
 */
export const produceOptions = {
  source: runOption({
    flag: '--source <spec>',
    required: true,
    schema: text,
    description:
      'csv:<path> | ndjson:- | ndjson:<path> | kafka[:<topic>] | synthetic:<shape>?key=value&…',
  }),
  stream: runOption({
    flag: '--stream <id>',
    schema: text,
    description: 'stream id (csv: default the file name; ndjson/kafka: when absent)',
  }),
  speed: runOption({
    flag: '--speed <x>',
    schema: speed,
    default: 'max',
    description: 'replay speed: max, realtime, or a factor such as 10',
  }),
  columns: inputShape.columns,
  streamColumn: runOption({
    flag: '--stream-column <col>',
    schema: text,
    description: 'csv: the column holding each row’s stream id',
  }),
  header: inputShape.header,
  delimiter: inputShape.delimiter,
  step: inputShape.step,
  train: runOption({
    flag: '--train <n>',
    schema: positive,
    description: 'request training on the first n windows of each stream',
  }),
  modelId: runOption({
    flag: '--model-id <id>',
    schema: text,
    description: 'model id of the training requests (default: the stream id)',
  }),
  idleExit: runOption({
    flag: '--idle-exit <ms>',
    schema: positive,
    description: 'kafka source: stop after this long without a message',
  }),
  dlq: runOption({
    flag: '--no-dlq',
    schema: z.boolean(),
    description: 'do not send bad input to the DLQ topic, only count and log it',
  }),
  progress: runOption({
    flag: '--no-progress',
    schema: z.boolean(),
    description: 'no progress bar, even on a terminal',
  }),
  http: runOption({
    flag: '--no-http',
    schema: z.boolean(),
    description: 'do not serve /metrics, /healthz, /readyz',
  }),
};

/** The options of one `seqae train` run: flags only. */
export const trainOptions = {
  csv: runOption({
    flag: '--csv <path>',
    required: true,
    schema: z.string().min(1),
    description: 'the CSV file of readings to train on',
    commands: 'train',
  }),
  modelId: runOption({
    flag: '--model-id <id>',
    required: true,
    schema: z.string().regex(/^[^\s:]{1,200}$/, '1-200 characters, no whitespace or ":"'),
    description: 'the model id to publish (or to name in --out)',
    commands: 'train',
  }),
  out: runOption({
    flag: '--out <file>',
    schema: z.string().min(1),
    description: 'write the trained model to this file instead of publishing it to the registry',
    commands: 'train',
  }),
  ...inputShape,
  progress: runOption({
    flag: '--no-progress',
    schema: z.boolean(),
    description: 'no progress bar on a terminal: one line per epoch, as without one',
    commands: 'train',
  }),
};

/** The options of one `seqae infer` run: flags only. */
export const inferOptions = {
  input: runOption({
    flag: '--input <spec>',
    required: true,
    schema: z.string().min(1),
    description: 'csv:<path> | ndjson:<path> | - (NDJSON readings on stdin)',
    commands: 'infer',
  }),
  model: runOption({
    flag: '--model <id>',
    schema: z.string().min(1),
    description: 'score with this model of the registry (its newest version unless --version)',
    commands: 'infer',
  }),
  version: runOption({
    flag: '--version <n>',
    schema: positive,
    description: 'with --model: this version',
    commands: 'infer',
  }),
  modelFile: runOption({
    flag: '--model-file <file>',
    schema: z.string().min(1),
    description: 'score with a model file written by `seqae train --out`',
    commands: 'infer',
  }),
  stream: runOption({
    flag: '--stream <id>',
    schema: text,
    description: 'stream id (csv: default the file name; ndjson: of readings that name none)',
    commands: 'infer',
  }),
  ...inputShape,
};

/** The options of one `seqae report` run: flags only. */
export const reportOptions = {
  out: runOption({
    flag: '--out <file>',
    required: true,
    schema: z.string().min(1),
    description: 'the HTML file to write',
    commands: 'report',
  }),
  streams: runOption({
    flag: '--streams <list>',
    schema: list,
    description: 'these stream ids (with --stream-prefix: these and the prefix’s)',
    commands: 'report',
  }),
  streamPrefix: runOption({
    flag: '--stream-prefix <prefix>',
    schema: z.string().min(1),
    description: 'the streams whose ids start with this (default: every stream)',
    commands: 'report',
  }),
  labels: runOption({
    flag: '--labels <file>',
    schema: z.string().min(1),
    description:
      'labelled anomaly windows to shade, in NAB’s labels/combined_windows.json format (file name → [start, end] pairs)',
    commands: 'report',
  }),
  maxWindows: runOption({
    flag: '--max-windows <n>',
    schema: positive,
    default: '2000',
    description: 'the most recent windows shown per stream',
    commands: 'report',
  }),
  since: runOption({
    flag: '--since <time>',
    schema: z.union([
      z.coerce.number().int().nonnegative(),
      z.iso.datetime({ offset: true }).transform((t) => Date.parse(t)),
    ]),
    description:
      'only what was written from then on: epoch ms or an ISO time (default: everything on the topics)',
    commands: 'report',
  }),
  title: runOption({
    flag: '--title <text>',
    schema: z.string().min(1),
    description: 'the page title (default: seqae report and the topic prefix)',
    commands: 'report',
  }),
};

/**
 * The options of one `seqae demo` run: flags only. Its worker and producer read every other setting
 * from the environment, as the demo passes it on.
 */
export const demoOptions = {
  streams: runOption({
    flag: '--streams <n>',
    schema: int(1, 1000),
    default: '20',
    description: 'sensors in the synthetic fleet',
    commands: 'demo',
  }),
  anomalies: runOption({
    flag: '--anomalies <n>',
    schema: int(0, 1000),
    description:
      'sensors with injected anomalies (two spikes every 1000 readings each; default: a quarter of --streams)',
    commands: 'demo',
  }),
  speed: runOption({
    flag: '--speed <n>',
    schema: z.coerce.number().positive().max(10_000),
    default: '20',
    description: 'readings a second per sensor',
    commands: 'demo',
  }),
  warmupWindows: runOption({
    flag: '--warmup-windows <n>',
    schema: int(2),
    default: '200',
    description: "windows a sensor's model waits for before its first training",
    commands: 'demo',
  }),
  epochs: runOption({
    flag: '--epochs <n>',
    schema: int(1, 100_000),
    default: '20',
    description:
      "epochs of a sensor's first training from scratch (warm-started ones: SEQAE_WARM_START_EPOCHS)",
    commands: 'demo',
  }),
  duration: runOption({
    flag: '--duration <s>',
    schema: z.coerce.number().positive(),
    description: 'stop after this many seconds (default: at Ctrl-C)',
    commands: 'demo',
  }),
  report: runOption({
    flag: '--report <file>',
    schema: z.string().min(1),
    default: 'report.html',
    description: "the run's report (seqae report), in the run's directory unless absolute",
    commands: 'demo',
  }),
  noReport: runOption({
    flag: '--no-report',
    schema: z.boolean(),
    description: 'write no report at the end',
    commands: 'demo',
  }),
};

/** Parsed values of a tree of declarations, in the tree's shape. */
export type Resolved<T> = {
  -readonly [K in keyof T]: T[K] extends Setting<infer S> ? z.output<S> : Resolved<T[K]>;
};

function isSetting(node: unknown): node is Setting {
  return typeof node === 'object' && node !== null && 'schema' in node && 'description' in node;
}

/** Every declaration of a tree with its path (`['worker', 'model', 'epochs']`), in order. */
export function* declarations(
  tree: object,
  path: readonly string[] = [],
): Generator<[path: string[], setting: Setting]> {
  for (const [key, node] of Object.entries(tree)) {
    if (isSetting(node)) yield [[...path, key], node];
    else yield* declarations(node as object, [...path, key]);
  }
}

/** Whether `command` takes `s`. */
export const takes = (s: Setting, command: CommandName): boolean =>
  s.commands === 'all' ||
  s.commands === command ||
  (Array.isArray(s.commands) && s.commands.includes(command));
