import { EventEmitter } from 'node:events';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
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
import { KafkaOutput } from '../transport/kafka-output.js';
import { checkEvictionPolicy, createRedis, credentialsAccepted } from '../transport/redis.js';
import { InferWorker } from './infer-worker.js';
import { ModelLifecycle } from '../training/lifecycle.js';
import { ModelCache } from '../scoring/model-cache.js';
import { OutputPublisher } from '../scoring/publisher.js';
import { anomalyScoring, WindowScorer } from '../scoring/window-scorer.js';
import { StreamWorker } from './stream-worker.js';
import { TrainWorker } from '../training/train-worker.js';
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
    private readonly parts: {
      redis: Redis;
      bullRedis: Redis;
      output: KafkaOutput;
      admin: Admin;
      models: ModelRegistry;
      cache: ModelCache;
      trainQueue: Queue<TrainJobData, TrainJobResult>;
      inferQueue: Queue;
      stream?: StreamWorker;
      infer?: InferWorker;
      train?: TrainWorker;
    },
  ) {
    super();
  }

  static async start(config: SeqaeConfig, log: Logger): Promise<WorkerProcess> {
    const w = config.worker;
    const backend = await initBackend(config.backend);
    log.info(
      {
        backend: backend.scoring,
        training: backend.name,
        skipped: backend.skipped,
        scoringNote: backend.scoringNote,
        roles: w.roles,
      },
      'compute backend ready',
    );
    const metricsRegistry = createMetricsRegistry({ role: 'worker', backend: backend.scoring });
    setActiveBackend(metricsRegistry, backend.scoring);
    const metrics = createWorkerMetrics(metricsRegistry, { liveTensors });

    // Bound before anything takes work: a taken port must stop the process while it holds nothing.
    // Not ready until every role has started; then ready while its connections and consumer are.
    let ready: () => Promise<Readiness> = async () => ({ ok: false, reason: 'starting' });
    const http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      metricsRegistry,
      ready: () => ready(),
    });
    try {
      const redis = createRedis(config, { name: 'seqae-worker' });
      await credentialsAccepted(redis, config);
      const bullRedis = createRedis(config, { bullmq: true, name: 'seqae-worker-bullmq' });
      await checkEvictionPolicy(redis, log);
      const kafka = createKafka(config, { log: (level, msg, extra) => log[level](extra, msg) });
      const output = new KafkaOutput(kafka, {
        maxRequestBytes: config.kafka.maxRequestBytes,
        compression: config.kafka.compression,
      });
      const admin = kafka.admin();
      await loginAccepted(Promise.all([output.connect(), admin.connect()]), config);
      await ensureTopics(admin, Object.values(config.topics), config.kafka.topicPartitions);

      const models = new ModelRegistry(redis, {
        prefix: config.redis.keyPrefix,
        keep: w.modelKeep,
      });
      const cache = new ModelCache(models, {
        max: w.modelCache,
        engine: { kind: scoringEngine(backend), threads: w.onnxThreads },
      });
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
      await models.subscribe();

      const store = new WindowStore(redis, {
        prefix: config.redis.keyPrefix,
        trainWindows: w.trainWindows,
        pendingLimit: w.pendingLimit,
      });
      const scorer = new WindowScorer(cache, { ...anomalyScoring(w.anomaly), metrics });
      const publisher = new OutputPublisher(
        output,
        config.topics,
        config.dlqOriginalMaxBytes,
        metrics,
        config.outputEncoding,
      );
      const trainQueue = new Queue<TrainJobData, TrainJobResult>(config.queues.train, {
        connection: bullRedis,
        prefix: config.queues.prefix,
      });
      const inferQueue = new Queue(config.queues.infer, {
        connection: bullRedis,
        prefix: config.queues.prefix,
      });
      const lifecycle = new ModelLifecycle(w, store, models, trainQueue);

      let stream: StreamWorker | undefined;
      let infer: InferWorker | undefined;
      let train: TrainWorker | undefined;
      let trainStarted: Promise<void> | undefined;
      if (w.roles.includes('train')) {
        train = new TrainWorker(config, bullRedis, metrics);
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
        trainStarted = train.start();
      }
      if (w.roles.includes('infer')) {
        infer = new InferWorker({
          config,
          connection: bullRedis,
          scorer,
          lifecycle,
          queue: inferQueue,
          publisher,
          metrics,
        });
        infer.worker.on('error', (err) => log.error({ err }, 'infer worker'));
        infer.start();
      }
      if (w.roles.includes('stream')) {
        stream = new StreamWorker({
          config,
          kafka,
          modelRegistry: models,
          scorer,
          store,
          lifecycle,
          publisher,
          metrics,
        });
        stream.on('error', (err) => log.error({ err }, 'stream worker'));
        stream.on('restarting', (r) => log.warn(r, 'stream consumer restarting'));
        stream.on('joined', () => {
          idleMembers(admin, config.topics.windows, w.groupId).then(
            (idle) =>
              idle &&
              log.warn(
                { topic: config.topics.windows, ...idle },
                'the windows topic has fewer partitions than the stream group has members: some workers get no windows (add partitions)',
              ),
            (err: unknown) => log.debug({ err: String(err) }, 'partition check failed'),
          );
        });
        stream.on('drained', (d) => log.info(d, 'pending windows scored'));
        await stream.start();
      }

      // Ready once the training children are up too: a job then never waits for a child to start.
      await trainStarted;
      registerQueueDepthCollector(metricsRegistry, [trainQueue, inferQueue]);
      registerKafkaLagCollector(metricsRegistry, admin, [
        { groupId: w.groupId, topics: [config.topics.windows] },
      ]);
      ready = composeReady({
        redis: redisReady(redis),
        kafka: kafkaReady(admin),
        ...(stream && { stream: async () => stream.health() }),
      });
      log.info({ url: http.url }, 'worker ready');
      const proc = new WorkerProcess(config, log, backend, metricsRegistry, metrics, http, {
        redis,
        bullRedis,
        output,
        admin,
        models,
        cache,
        trainQueue,
        inferQueue,
        stream,
        infer,
        train,
      });
      stream?.on('fatal', (err) => proc.emit('fatal', err));
      return proc;
    } catch (err) {
      await http.close();
      throw err;
    }
  }

  /**
   * Graceful stop: the stream worker finishes and commits its batch and leaves the group; queue
   * workers finish their jobs, or after `shutdownTimeoutMs` hand them back (their locks lapse and
   * another worker takes them); then every connection closes. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const { stream, infer, train, output, admin, models, cache, trainQueue, inferQueue } =
        this.parts;
      const deadline = this.config.worker.shutdownTimeoutMs;
      const [, inferBack, trainBack] = await Promise.all([
        stream?.stop(),
        infer?.stop(deadline),
        train?.stop(deadline),
      ]);
      if (inferBack || trainBack) {
        this.log.warn({ deadline }, 'shutdown deadline reached: in-flight jobs handed back');
      }
      await Promise.allSettled([
        output.close(),
        admin.disconnect(),
        models.close(),
        trainQueue.close(),
        inferQueue.close(),
      ]);
      cache.clear();
      await Promise.allSettled([this.parts.redis.quit(), this.parts.bullRedis.quit()]);
      await this.http.close();
      this.log.info('worker stopped');
    })();
    return this.stopping;
  }
}
