import { EventEmitter } from 'node:events';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { initBackend, liveTensors, scoringEngine, type BackendInfo } from '../backend/index.js';
import type { SeqaeConfig } from '../config/index.js';
import { composeReady, kafkaReady, redisReady, type Readiness } from '../http/readiness.js';
import { startHttpServer, type HttpServer } from '../http/server.js';
import type { Logger } from '../log/index.js';
import {
  createMetricsRegistry,
  createWorkerMetrics,
  registerKafkaLagCollector,
  registerQueueDepthCollector,
  setActiveBackend,
  type WorkerMetrics,
} from '../metrics/index.js';
import { ModelRegistry } from '../model-registry/index.js';
import { createKafka, loginAccepted } from '../transport/kafka.js';
import { ensureTopics, idleMembers } from '../transport/topics.js';
import { createOutput, type Output } from '../transport/output.js';
import { checkEvictionPolicy, createRedis, credentialsAccepted } from '../transport/redis.js';
import { InferWorker } from './infer-worker.js';
import { ModelLifecycle } from '../training/lifecycle.js';
import { ModelCache } from '../scoring/model-cache.js';
import { OutputPublisher } from '../scoring/publisher.js';
import { anomalyScoring, WindowScorer } from '../scoring/window-scorer.js';
import { FeedbackStore } from '../scoring/feedback-store.js';
import { FeedbackMemory } from '../anomaly/index.js';
import { startFeedbackWorker, type FeedbackWorker } from './feedback-worker.js';
import { StreamWorker } from './stream-worker.js';
import { TrainWorker } from '../training/train-worker.js';
import { ResourceScope } from '../lifecycle/scope.js';
import type { TrainJobData, TrainJobResult } from '../contracts/jobs.js';
import { WindowStore } from '../training/window-store.js';

export interface WorkerProcessEvents {
  /** A part cannot go on (the stream consumer kept crashing): stop and exit non-zero. */
  fatal: [Error];
}

/**
 * One worker process: the roles it was asked for (train, stream, infer) over shared connections, the
 * model registry and cache, and an HTTP server for /metrics, /healthz and /readyz. Several such
 * processes share the work through the Kafka consumer group and the BullMQ queues alone.
 */
export class WorkerProcess extends EventEmitter<WorkerProcessEvents> {
  private stopping?: Promise<void>;

  private constructor(
    readonly config: SeqaeConfig,
    readonly log: Logger,
    readonly backend: BackendInfo,
    readonly metricsRegistry: Registry,
    readonly metrics: WorkerMetrics,
    readonly http: HttpServer,
    private readonly scope: ResourceScope,
  ) {
    super();
  }

  /**
   * Opens the process's parts in order, each registered in one scope as it opens: a start that fails
   * half way (Kafka refusing, a topic it may not create) closes what it opened, in reverse, then
   * rejects with its error.
   */
  static async start(config: SeqaeConfig, log: Logger): Promise<WorkerProcess> {
    const backend = await initBackend(config.backend);
    log.info(
      {
        backend: backend.scoring,
        training: backend.name,
        skipped: backend.skipped,
        scoringNote: backend.scoringNote,
        roles: config.worker.roles,
      },
      'compute backend ready',
    );
    const metricsRegistry = createMetricsRegistry({ role: 'worker', backend: backend.scoring });
    setActiveBackend(metricsRegistry, backend.scoring);
    const metrics = createWorkerMetrics(metricsRegistry, { liveTensors });
    const scope = new ResourceScope({
      // A role's stop waits up to the shutdown deadline itself.
      closeTimeoutMs: config.worker.shutdownTimeoutMs + 10_000,
      onCloseFailure: (name, err) => log.warn({ err, part: name }, 'closing failed'),
    });
    return scope.run(async () => {
      // Bound before anything takes work: a taken port must stop the process while it holds nothing.
      // Not ready until every role has started; then ready while its connections and consumer are.
      let ready: () => Promise<Readiness> = async () => ({ ok: false, reason: 'starting' });
      const http = await scope.open(
        'http server',
        () => startHttpServer({ ...config.http, metricsRegistry, ready: () => ready() }),
        (h) => h.close(),
      );
      const context: Context = { config, log, scope, metrics, backend };
      const io = await openConnections(context);
      const parts = await openParts(context, io);
      const { stream } = await startRoles(context, io, parts);
      registerQueueDepthCollector(metricsRegistry, [parts.trainQueue, parts.inferQueue]);
      registerKafkaLagCollector(metricsRegistry, io.admin, [
        { groupId: config.worker.groupId, topics: [config.topics.windows] },
      ]);
      ready = composeReady({
        redis: redisReady(io.redis),
        kafka: kafkaReady(io.admin),
        ...(stream && { stream: async () => stream.health() }),
      });
      log.info({ url: http.url }, 'worker ready');
      const proc = new WorkerProcess(config, log, backend, metricsRegistry, metrics, http, scope);
      stream?.on('fatal', (err) => proc.emit('fatal', err));
      return proc;
    });
  }

  /**
   * Graceful stop: the stream worker finishes and commits its batch and leaves the group; queue
   * workers finish their jobs, or after `shutdownTimeoutMs` hand them back (their locks lapse and
   * another worker takes them); then every connection closes, last opened first. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.scope.close().then(() => this.log.info('worker stopped'));
    return this.stopping;
  }
}

/** What each step of a start needs: it registers what it opens in `scope`. */
interface Context {
  config: SeqaeConfig;
  log: Logger;
  scope: ResourceScope;
  metrics: WorkerMetrics;
  backend: BackendInfo;
}

interface Connections {
  redis: Redis;
  bullRedis: Redis;
  kafka: Kafka;
  output: Output;
  admin: Admin;
}

/** Redis (a plain and a BullMQ connection) and Kafka (producer and admin), topics ensured. */
async function openConnections({ config, log, scope }: Context): Promise<Connections> {
  // A connection not (yet) ready has nothing to flush, and quit() would wait for it to connect.
  const quit = async (r: Redis) => {
    if (r.status === 'ready') await r.quit().catch(() => r.disconnect());
    else r.disconnect();
  };
  const redis = scope.add(
    'redis',
    createRedis(config, { name: 'seqae-worker', autoPipelining: true }),
    quit,
  );
  await credentialsAccepted(redis, config);
  const bullRedis = scope.add(
    'redis (bullmq)',
    createRedis(config, { bullmq: true, name: 'seqae-worker-bullmq', autoPipelining: true }),
    quit,
  );
  await checkEvictionPolicy(redis, log);
  const kafka = createKafka(config, { log: (level, msg, extra) => log[level](extra, msg) });
  const output = scope.add('kafka producer', createOutput(config, kafka), (o) => o.close());
  const admin = scope.add('kafka admin', kafka.admin(), (a) => a.disconnect());
  await loginAccepted(Promise.all([output.connect(), admin.connect()]), config);
  await ensureTopics(admin, Object.values(config.topics), config.kafka.topicPartitions);
  return { redis, bullRedis, kafka, output, admin };
}

interface Parts {
  models: ModelRegistry;
  store: WindowStore;
  scorer: WindowScorer;
  publisher: OutputPublisher;
  trainQueue: Queue<TrainJobData, TrainJobResult>;
  inferQueue: Queue;
  lifecycle: ModelLifecycle;
  /** The operators' false-alarm marks: kept in Redis, applied by the scorer. */
  feedback: Pick<Parameters<typeof startFeedbackWorker>[0], 'store' | 'memory' | 'anomaly'>;
}

/** The model registry (subscribed to its notices), cache, window store, scorer and queues. */
async function openParts(
  { config, log, scope, metrics, backend }: Context,
  io: Connections,
): Promise<Parts> {
  const w = config.worker;
  const models = scope.add(
    'model registry',
    new ModelRegistry(io.redis, { prefix: config.redis.keyPrefix, keep: w.modelKeep }),
    (m) => m.close(),
  );
  const cache = scope.add(
    'model cache',
    new ModelCache(models, {
      max: w.modelCache,
      engine: { kind: scoringEngine(backend), threads: w.onnxThreads, offThread: w.onnxOwnThread },
    }),
    (c) => c.clear(),
  );
  watchModels(models, cache, metrics, log);
  await models.subscribe();
  const store = new WindowStore(io.redis, {
    prefix: config.redis.keyPrefix,
    trainWindows: w.trainWindows,
    pendingLimit: w.pendingLimit,
  });
  const scoring = anomalyScoring(w.anomaly);
  const feedbackMemory = new FeedbackMemory({
    tolerance: w.feedback.tolerance,
    expiryMs: w.feedback.expiryHours * 3_600_000,
    perStream: w.feedback.perStream,
  });
  const scorer = new WindowScorer(cache, { ...scoring, feedback: feedbackMemory, metrics });
  const feedbackStore = new FeedbackStore(io.redis, config.redis.keyPrefix);
  const publisher = new OutputPublisher(
    io.output,
    config.topics,
    config.dlqOriginalMaxBytes,
    metrics,
    config.outputEncoding,
    feedbackStore,
  );
  const queue = <D, R>(name: string) =>
    scope.add(
      `queue ${name}`,
      new Queue<D, R>(name, { connection: io.bullRedis, prefix: config.queues.prefix }),
      (q) => q.close(),
    );
  const trainQueue = queue<TrainJobData, TrainJobResult>(config.queues.train);
  const inferQueue = queue<unknown, unknown>(config.queues.infer);
  const lifecycle = new ModelLifecycle(w, store, models, trainQueue);
  const feedback = { store: feedbackStore, memory: feedbackMemory, anomaly: scoring.anomaly };
  return { models, store, scorer, publisher, trainQueue, inferQueue, lifecycle, feedback };
}

/** Logs the registry's notices and keeps the cache and its metrics in step with them. */
function watchModels(
  models: ModelRegistry,
  cache: ModelCache,
  metrics: WorkerMetrics,
  log: Logger,
): void {
  models.on('updated', (n) => {
    cache.invalidate(n.modelId, n.version);
    log.info(n, 'model updated');
  });
  models.on('error', (err) => log.warn({ err }, 'model registry notice'));
  cache.on('loaded', (m) => {
    metrics.modelsLoaded.set(cache.size);
    metrics.setModelVersion(m.modelId, m.version);
  });
  cache.on('refused', (r) =>
    log.error(
      { model: r.modelId, version: r.version, err: r.error.message },
      'model version refused: its artifact does not check out; the version before it is used',
    ),
  );
  cache.on('unloaded', (m) => {
    metrics.modelsLoaded.set(cache.size);
    metrics.forgetModel(m.modelId);
  });
}

interface Roles {
  feedback?: FeedbackWorker;
  stream?: StreamWorker;
  infer?: InferWorker;
  train?: TrainWorker;
}

/**
 * Starts the roles asked for; resolves once the stream consumer has joined and the training children
 * are up (a job then never waits for a child to start). The roles stop together, first of all: the
 * stream worker finishes its batch, queue workers their jobs until the shutdown deadline.
 */
async function startRoles(context: Context, io: Connections, parts: Parts): Promise<Roles> {
  const { config, log, scope } = context;
  const roles: Roles = {};
  scope.add('roles', roles, async ({ stream, infer, train, feedback }) => {
    const deadline = config.worker.shutdownTimeoutMs;
    const [, inferBack, trainBack] = await Promise.all([
      stream?.stop(),
      infer?.stop(deadline),
      train?.stop(deadline),
      feedback?.stop(),
    ]);
    if (inferBack || trainBack) {
      log.warn({ deadline }, 'shutdown deadline reached: in-flight jobs handed back');
    }
  });
  const wanted = config.worker.roles;
  // Every role that scores follows the operators' false-alarm marks.
  if (wanted.includes('stream') || wanted.includes('infer'))
    roles.feedback = await startFeedbackWorker(
      {
        config,
        kafka: io.kafka,
        redis: io.redis,
        publisher: parts.publisher,
        metrics: context.metrics,
        ...parts.feedback,
      },
      log,
    );
  let trainStarted: Promise<void> | undefined;
  if (wanted.includes('train')) {
    roles.train = trainRole(context, io);
    trainStarted = roles.train.start();
  }
  if (wanted.includes('infer')) {
    roles.infer = inferRole(context, io, parts);
    roles.infer.start();
  }
  if (wanted.includes('stream')) {
    roles.stream = streamRole(context, io, parts);
    await roles.stream.start();
  }
  await trainStarted;
  return roles;
}

function trainRole({ config, log, metrics }: Context, io: Connections): TrainWorker {
  const train = new TrainWorker(config, io.bullRedis, metrics);
  train.worker.on('error', (err) => log.error({ err }, 'train worker'));
  train.worker.on('failed', (job, err) =>
    log.warn({ job: job?.id, err: err.message }, 'training failed'),
  );
  train.worker.on('completed', (job, r) =>
    log.info(
      { job: job.id, model: r.modelId, version: r.version, loss: r.summary.final.loss },
      'model trained',
    ),
  );
  return train;
}

function inferRole({ config, log, metrics }: Context, io: Connections, parts: Parts): InferWorker {
  const { scorer, lifecycle, inferQueue: queue, publisher } = parts;
  const infer = new InferWorker({
    config,
    connection: io.bullRedis,
    ...{ scorer, lifecycle, queue, publisher, metrics },
  });
  infer.worker.on('error', (err) => log.error({ err }, 'infer worker'));
  return infer;
}

function streamRole(
  { config, log, metrics }: Context,
  io: Connections,
  parts: Parts,
): StreamWorker {
  const { models: modelRegistry, scorer, store, lifecycle, publisher } = parts;
  const stream = new StreamWorker({
    config,
    kafka: io.kafka,
    ...{ modelRegistry, scorer, store, lifecycle, publisher, metrics },
  });
  stream.on('error', (err) => log.error({ err }, 'stream worker'));
  stream.on('restarting', (r) => log.warn(r, 'stream consumer restarting'));
  stream.on('joined', () => {
    const { windows } = config.topics;
    idleMembers(io.admin, windows, config.worker.groupId).then(
      (idle) =>
        idle &&
        log.warn(
          { topic: windows, ...idle },
          'the windows topic has fewer partitions than the stream group has members: some workers get no windows (add partitions)',
        ),
      (err: unknown) => log.debug({ err: String(err) }, 'partition check failed'),
    );
  });
  stream.on('drained', (d) => log.info(d, 'pending windows scored'));
  return stream;
}
