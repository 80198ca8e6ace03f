export {
  SequenceAutoencoder,
  toMatrix,
  type InferenceResult,
  type InferOptions,
  type WindowBatch,
} from './autoencoder.js';
export {
  resolveModelConfig,
  type ModelConfig,
  type ModelConfigInput,
  type Variant,
  type PredictionTarget,
} from './config.js';
export { datasetFromSeries, datasetFromWindows, type Dataset } from './dataset.js';
export type { EpochProgress, Losses, TrainOptions, TrainingSummary } from './train.js';
export { modelFlops } from './flops.js';
export { createScorer, type Scorer, type ScorerOptions, type ScoringEngine } from './scorer.js';
export { OnnxScorer, type OnnxScorerOptions } from './onnx/scorer.js';
export { exportOnnx, type ExportOptions } from './onnx/export.js';
