import { LRUCache } from 'lru-cache';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Every metric seqae defines, declared once here: names carry their unit, label sets are bounded
 * (no stream or window ids, except `seqae_stream_anomaly_score`, whose streams are capped by an LRU).
 */

type Kind = 'counter' | 'gauge' | 'histogram';

export interface MetricDeclaration<L extends string = string> {
  readonly type: Kind;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly buckets?: readonly number[];
}

const declare = <L extends string = never>(
  type: Kind,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  extra: { buckets?: readonly number[] } = {},
): MetricDeclaration<L> => ({ type, name, help, labelNames, ...extra });

/** Histogram buckets. Seconds unless the metric says otherwise. */
export const BUCKETS = {
  /** BullMQ jobs: an inference job takes milliseconds, a training job minutes. */
  jobSeconds: [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
  ],
  /** One model's training: seconds (tiny test models) to an hour. */
  trainingSeconds: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
  /** One micro-batch through the model. */
  inferenceSeconds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  /** Window end → output published; includes micro-batching delay (up to T ms) and queueing. */
  endToEndSeconds: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
  /** Windows per micro-batch (powers of two up to the largest sensible batch). */
  batchWindows: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
  /** Mean squared error on normalised values: good fits sit near 1e-3, broken ones above 1. */
  reconstructionError: [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  ],
  /** Anomaly scores live in [0, 1]; the high end is where alerts look, so it is finer there. */
  anomalyScore: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
} as const;

// ── process ────────────────────────────────────────────────────────────────────────────────────────
export const BUILD_INFO = declare(
  'gauge',
  'seqae_build_info',
  'Always 1; labels say which seqae version, compute backend and role this process runs.',
  ['version', 'backend', 'role'],
);
export const COLLECTOR_ERRORS = declare(
  'counter',
  'seqae_collector_errors_total',
  'Scrape-time collections that failed or timed out (queue depth, Kafka lag, pool children); the last good values are dropped or kept as documented per collector.',
  ['collector'],
);

// Producer metrics (seqae_producer_*) are declared with the producer, in src/producer/metrics.ts.

// ── workers ────────────────────────────────────────────────────────────────────────────────────────
export const WINDOWS_CONSUMED = declare(
  'counter',
  'seqae_windows_consumed_total',
  'Valid windows taken by a worker, by source (kafka, bullmq).',
  ['source'],
);
export const OUTPUTS_PUBLISHED = declare(
  'counter',
  'seqae_outputs_published_total',
  'Output messages acknowledged by Kafka, by output topic kind (reconstructions, predictions, embeddings, anomalies).',
  ['topic'],
);
export const DLQ_MESSAGES = declare(
  'counter',
  'seqae_dlq_messages_total',
  'Messages sent to the dead-letter topic, by reason (an error code, never a free-text message).',
  ['reason'],
);
export const JOBS = declare(
  'counter',
  'seqae_jobs_total',
  'BullMQ jobs finished by this process, by queue, job name (type) and status (completed, failed).',
  ['queue', 'type', 'status'],
);
export const JOB_DURATION = declare(
  'histogram',
  'seqae_job_duration_seconds',
  'Wall time of a BullMQ job from processing start to completion or failure.',
  ['queue', 'type'],
  { buckets: BUCKETS.jobSeconds },
);
export const TRAINING_DURATION = declare(
  'histogram',
  'seqae_training_duration_seconds',
  'Wall time of one model training (all epochs).',
  [],
  { buckets: BUCKETS.trainingSeconds },
);
export const TRAINING_EPOCHS = declare(
  'counter',
  'seqae_training_epochs_total',
  'Training epochs completed.',
);
export const TRAINING_LOSS = declare(
  'gauge',
  'seqae_training_loss',
  'Loss after the last epoch of the last training per model and output (total, reconstruction, prediction); label sets leave with the model (LRU).',
  ['model', 'output'],
);
export const INFERENCE_BATCH_SIZE = declare(
  'histogram',
  'seqae_inference_batch_size',
  'Windows per inference micro-batch.',
  [],
  { buckets: BUCKETS.batchWindows },
);
export const INFERENCE_DURATION = declare(
  'histogram',
  'seqae_inference_duration_seconds',
  'Wall time of one inference micro-batch through the model.',
  [],
  { buckets: BUCKETS.inferenceSeconds },
);
export const END_TO_END_LATENCY = declare(
  'histogram',
  'seqae_end_to_end_latency_seconds',
  'Time from a window end (timestamp of its last reading) to its outputs being acknowledged.',
  [],
  { buckets: BUCKETS.endToEndSeconds },
);
export const RECONSTRUCTION_ERROR = declare(
  'histogram',
  'seqae_reconstruction_error',
  'Mean squared reconstruction error per window (normalised units).',
  [],
  { buckets: BUCKETS.reconstructionError },
);
export const ANOMALY_SCORE = declare(
  'histogram',
  'seqae_anomaly_score',
  'Anomaly score per window, in [0, 1].',
  [],
  { buckets: BUCKETS.anomalyScore },
);
export const ANOMALY_ALERTS = declare(
  'counter',
  'seqae_anomaly_alerts_total',
  'Windows whose anomaly score reached the alert threshold (SEQAE_ALERT_THRESHOLD).',
  [],
);
export const FEEDBACK = declare(
  'counter',
  'seqae_feedback_total',
  'Operator feedback received from the feedback topic, by kind (false-alarm); every worker counts every mark.',
  ['kind'],
);
export const ALERTS_SUPPRESSED = declare(
  'counter',
  'seqae_alerts_suppressed_total',
  'Windows whose score reached the alert threshold but that are no alert, by cause (feedback: like a marked false alarm; routine: an event that recurs on a schedule).',
  ['cause'],
);
export const STREAM_ANOMALY_SCORE = declare(
  'gauge',
  'seqae_stream_anomaly_score',
  'Last anomaly score per stream, for the most recently active streams only (capped LRU; evicted streams disappear).',
  ['stream'],
);
export const MODELS_LOADED = declare(
  'gauge',
  'seqae_models_loaded',
  'Models held in memory by the model cache.',
);
export const MODEL_VERSION = declare(
  'gauge',
  'seqae_model_version',
  'Version of the model in use per model id; label sets leave with the model (LRU).',
  ['model'],
);
export const WINDOWS_BUFFERED = declare(
  'gauge',
  'seqae_windows_buffered',
  'Windows kept waiting for a first model (warm-up buffers held by this process).',
);

// ── scrape-time collectors (collectors.ts) ─────────────────────────────────────────────────────────
export const QUEUE_JOBS = declare(
  'gauge',
  'seqae_queue_jobs',
  'BullMQ jobs per queue and state, read from Redis on every scrape.',
  ['queue', 'state'],
);
export const TFJS_TENSORS = declare(
  'gauge',
  'seqae_tfjs_tensors',
  'Live tfjs tensors in this process, read on each scrape: flat while nothing leaks (training children count their own, not here).',
);
export const KAFKA_CONSUMER_LAG = declare(
  'gauge',
  'seqae_kafka_consumer_lag',
  'Messages between a consumer group committed offset and the partition end (high watermark), per partition; cached a few seconds.',
  ['group', 'topic', 'partition'],
);

/**
 * All declarations, for documentation and tests (default `process_*`/`nodejs_*` metrics and the
 * producer's `seqae_producer_*` aside).
 */
export const metricCatalog: readonly MetricDeclaration[] = [
  BUILD_INFO,
  COLLECTOR_ERRORS,
  WINDOWS_CONSUMED,
  OUTPUTS_PUBLISHED,
  DLQ_MESSAGES,
  JOBS,
  JOB_DURATION,
  TRAINING_DURATION,
  TRAINING_EPOCHS,
  TRAINING_LOSS,
  INFERENCE_BATCH_SIZE,
  INFERENCE_DURATION,
  END_TO_END_LATENCY,
  RECONSTRUCTION_ERROR,
  ANOMALY_SCORE,
  FEEDBACK,
  ALERTS_SUPPRESSED,
  STREAM_ANOMALY_SCORE,
  MODELS_LOADED,
  MODEL_VERSION,
  WINDOWS_BUFFERED,
  QUEUE_JOBS,
  KAFKA_CONSUMER_LAG,
  TFJS_TENSORS,
];

// ── registration ───────────────────────────────────────────────────────────────────────────────────

/** The metric of `registry` named by `d`, created on first use, so that factories can share metrics. */
export function counterIn<L extends string>(
  registry: Registry,
  d: MetricDeclaration<L>,
): Counter<L> {
  const existing = registry.getSingleMetric(d.name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({
    name: d.name,
    help: d.help,
    labelNames: d.labelNames,
    registers: [registry],
  });
}

export function gaugeIn<L extends string>(
  registry: Registry,
  d: MetricDeclaration<L>,
  collect?: (this: Gauge<L>) => void | Promise<void>,
): Gauge<L> {
  const existing = registry.getSingleMetric(d.name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({
    name: d.name,
    help: d.help,
    labelNames: d.labelNames,
    registers: [registry],
    collect,
  });
}

export function histogramIn<L extends string>(
  registry: Registry,
  d: MetricDeclaration<L>,
): Histogram<L> {
  const existing = registry.getSingleMetric(d.name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({
    name: d.name,
    help: d.help,
    labelNames: d.labelNames,
    buckets: [...(d.buckets ?? [])],
    registers: [registry],
  });
}

// ── worker metrics ─────────────────────────────────────────────────────────────────────────────────

export type WindowSource = 'kafka' | 'bullmq';
export type OutputTopic = 'reconstructions' | 'predictions' | 'embeddings' | 'anomalies';
export type JobStatus = 'completed' | 'failed';
export type LossOutput = 'total' | 'reconstruction' | 'prediction';

export interface WorkerMetricsOptions {
  /** Most models with `seqae_training_loss`/`seqae_model_version` label sets at once. Default 1000. */
  modelLabelCap?: number;
  /** Most streams in `seqae_stream_anomaly_score` at once; 0 turns the gauge off. Default 100. */
  streamLabelCap?: number;
  /** Counts the live tfjs tensors for `seqae_tfjs_tensors` (the metrics never load tfjs themselves). */
  liveTensors?: () => number;
}

/**
 * Handles a worker (stream, infer and train roles) records its work with. Training runs in child
 * processes: the train role records their progress and results here, in the parent.
 */
export interface WorkerMetrics {
  /** `.inc({ source })` per valid window taken. */
  readonly windowsConsumed: Counter<'source'>;
  /** `.inc({ topic })` per acknowledged output message; topic is an {@link OutputTopic}. */
  readonly outputsPublished: Counter<'topic'>;
  /** `.inc({ reason })` with the error's `code`. */
  readonly dlqMessages: Counter<'reason'>;
  /** `.inc({ queue, type: job.name, status })`. */
  readonly jobs: Counter<'queue' | 'type' | 'status'>;
  /** `.startTimer({ queue, type })` or `.observe(labels, seconds)`. */
  readonly jobDuration: Histogram<'queue' | 'type'>;
  readonly trainingDuration: Histogram;
  readonly trainingEpochs: Counter;
  readonly inferenceBatchSize: Histogram;
  readonly inferenceDuration: Histogram;
  readonly endToEndLatency: Histogram;
  readonly reconstructionError: Histogram;
  readonly anomalyScore: Histogram;
  /** `.inc({ kind })` per feedback message taken from the feedback topic. */
  readonly feedback: Counter<'kind'>;
  /** `.inc({ cause })` per would-be alert made no alert. */
  readonly alertsSuppressed: Counter<'cause'>;
  readonly modelsLoaded: Gauge;
  readonly windowsBuffered: Gauge;
  readonly liveTensors: Gauge;
  /** Sets the last loss of `model`'s `output`; bounded by `modelLabelCap` and {@link forgetModel}. */
  setTrainingLoss(model: string, output: LossOutput, loss: number): void;
  /** Sets the version in use for `model`; bounded like the loss. */
  setModelVersion(model: string, version: number): void;
  /**
   * Observes one window's score: the histogram and the alert count always, the per-stream gauge for
   * the capped streams.
   */
  observeAnomalyScore(streamId: string, score: number, alert: boolean): void;
  /** Observes end-to-end latency for a window whose last reading is at `windowEndMs`. */
  observeEndToEnd(windowEndMs: number, publishedAtMs?: number): void;
  /** Drops every label set of `model` (call when the model leaves the LRU of loaded models). */
  forgetModel(model: string): void;
}

const workerMetricsByRegistry = new WeakMap<Registry, WorkerMetrics>();

/**
 * The worker metrics in `registry` (created once per registry; a second call returns the same
 * handles).
 */
export function createWorkerMetrics(
  registry: Registry,
  options: WorkerMetricsOptions = {},
): WorkerMetrics {
  const known = workerMetricsByRegistry.get(registry);
  if (known) return known;

  const trainingLoss = gaugeIn(registry, TRAINING_LOSS);
  const modelVersion = gaugeIn(registry, MODEL_VERSION);
  const streamScore = gaugeIn(registry, STREAM_ANOMALY_SCORE);
  const anomalyScore = histogramIn(registry, ANOMALY_SCORE);
  const anomalyAlerts = counterIn(registry, ANOMALY_ALERTS);
  const endToEndLatency = histogramIn(registry, END_TO_END_LATENCY);

  // Models with label sets, each with the loss outputs it has set; eviction removes them all.
  const models = new LRUCache<string, Set<LossOutput>>({
    max: Math.max(1, options.modelLabelCap ?? 1000),
    dispose: (outputs, model) => {
      for (const output of outputs) trainingLoss.remove({ model, output });
      modelVersion.remove({ model });
    },
  });
  const touch = (model: string): Set<LossOutput> => {
    let outputs = models.get(model);
    if (!outputs) models.set(model, (outputs = new Set()));
    return outputs;
  };

  const streamCap = options.streamLabelCap ?? 100;
  const streams =
    streamCap > 0
      ? new LRUCache<string, true>({
          max: streamCap,
          dispose: (_v, stream) => streamScore.remove({ stream }),
        })
      : undefined;

  const metrics: WorkerMetrics = {
    windowsConsumed: counterIn(registry, WINDOWS_CONSUMED),
    outputsPublished: counterIn(registry, OUTPUTS_PUBLISHED),
    dlqMessages: counterIn(registry, DLQ_MESSAGES),
    jobs: counterIn(registry, JOBS),
    jobDuration: histogramIn(registry, JOB_DURATION),
    trainingDuration: histogramIn(registry, TRAINING_DURATION),
    trainingEpochs: counterIn(registry, TRAINING_EPOCHS),
    inferenceBatchSize: histogramIn(registry, INFERENCE_BATCH_SIZE),
    inferenceDuration: histogramIn(registry, INFERENCE_DURATION),
    endToEndLatency,
    reconstructionError: histogramIn(registry, RECONSTRUCTION_ERROR),
    anomalyScore,
    feedback: counterIn(registry, FEEDBACK),
    alertsSuppressed: counterIn(registry, ALERTS_SUPPRESSED),
    modelsLoaded: gaugeIn(registry, MODELS_LOADED),
    windowsBuffered: gaugeIn(registry, WINDOWS_BUFFERED),
    liveTensors: gaugeIn(registry, TFJS_TENSORS, function collect() {
      if (options.liveTensors) this.set(options.liveTensors());
    }),
    setTrainingLoss(model, output, loss) {
      touch(model).add(output);
      trainingLoss.set({ model, output }, loss);
    },
    setModelVersion(model, version) {
      touch(model);
      modelVersion.set({ model }, version);
    },
    observeAnomalyScore(streamId, score, alert) {
      anomalyScore.observe(score);
      if (alert) anomalyAlerts.inc();
      if (!streams) return;
      if (!streams.has(streamId)) streams.set(streamId, true);
      else streams.get(streamId); // refresh recency
      streamScore.set({ stream: streamId }, score);
    },
    observeEndToEnd(windowEndMs, publishedAtMs = Date.now()) {
      endToEndLatency.observe(Math.max(0, publishedAtMs - windowEndMs) / 1000);
    },
    forgetModel(model) {
      models.delete(model);
    },
  };
  workerMetricsByRegistry.set(registry, metrics);
  return metrics;
}
