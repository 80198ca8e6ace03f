export {
  SequenceAutoencoder,
  toMatrix,
  type InferenceResult,
  type InferOptions,
  type WindowBatch,
} from './autoencoder.js';
export type { EngineKind, InferenceEngine } from './inference.js';
export {
  resolveModelConfig,
  shapeKey,
  type ModelConfig,
  type ModelConfigInput,
  type Variant,
  type PredictionTarget,
} from './config.js';
export { datasetFromSeries, datasetFromWindows, type Dataset } from './dataset.js';
export type {
  EpochProgress,
  Losses,
  TrainingHistory,
  TrainOptions,
  TrainingSummary,
} from './train.js';
export { modelFlops } from './flops.js';
export { createInferenceEngine, type InferenceEngineOptions } from './engine.js';
export { OnnxEngine, type OnnxEngineOptions } from './onnx/engine.js';
export { exportOnnx, type ExportOptions } from './onnx/export.js';
