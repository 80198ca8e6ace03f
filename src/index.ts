/**
 * seqae as a library: `import { createWorker, createProducer, SequenceAutoencoder } from 'seqae'`.
 *
 * - createWorker / createProducer: a running worker or producer, configured like the CLI.
 * - SequenceAutoencoder, createInferenceEngine: train, save, load and score models in-process.
 * - The contracts: windows in (Window, parseWindow, encodeWindow), outputs out (WindowOutputs and the
 *   payload of each output topic), readings (Reading, tryParseReading), and their version numbers.
 * - loadConfig: the configuration from variables (docs/settings.md); createKafka and
 *   createRedis: clients configured from it (TLS, SASL, passwords), for a service's own use.
 */
export {
  createProducer,
  createWorker,
  type EmbedOptions,
  type RunningProducer,
} from './embed/index.js';
export {
  loadConfig,
  readConfig,
  topicNames,
  type LoadedConfig,
  type Queues,
  type SeqaeConfig,
  type Topics,
} from './config/index.js';
export {
  SequenceAutoencoder,
  createInferenceEngine,
  datasetFromSeries,
  datasetFromWindows,
  resolveModelConfig,
  toMatrix,
  type Dataset,
  type EpochProgress,
  type InferenceEngine,
  type InferenceEngineOptions,
  type InferenceResult,
  type ModelConfig,
  type ModelConfigInput,
  type TrainingSummary,
  type Variant,
} from './model/index.js';
export {
  WINDOW_VERSION,
  encodeWindow,
  parseWindow,
  streamIdSchema,
  tryParseWindow,
  windowId,
  type ParseResult,
  type Window,
  type WindowRejection,
} from './contracts/window.js';
export {
  OUTPUT_HEADERS,
  OUTPUT_VERSION,
  outputPayloads,
  decodeOutput,
  OUTPUT_VERSION_F32,
  type AnomalyOutput,
  type EmbeddingOutput,
  type OutputTopicName,
  type PredictionOutput,
  type ReconstructionOutput,
  type WindowOutputs,
} from './contracts/outputs.js';
export {
  READING_VERSION,
  tryParseReading,
  type Reading,
  type ReadingRejection,
} from './contracts/reading.js';
export { parseDlq, type DlqMessage } from './contracts/dead-letter.js';
export { Producer, type ProduceOptions } from './producer/producer.js';
export type { PipelineStats } from './producer/pipeline.js';
export { WorkerProcess } from './worker/process.js';
export { ModelRegistry, type ModelMeta, type ModelVersion } from './model-registry/index.js';
export {
  logErrorStats,
  trainingZScoring,
  type AnomalyScoring,
  type ErrorStats,
} from './anomaly/index.js';
export { initBackend, type BackendPreference } from './backend/index.js';
export { createKafka } from './transport/kafka.js';
export { createRedis } from './transport/redis.js';
export { SeqaeError, ConfigError, ValidationError, ArtifactError } from './errors/index.js';
