import type { SequenceAutoencoder } from './autoencoder.js';
import type { InferenceResult, InferOptions, WindowBatch } from './inference.js';
import { OnnxScorer, type OnnxScorerOptions } from './onnx/scorer.js';

/** Which engine scores windows: tfjs (the model itself, on the active tfjs backend) or ONNX Runtime. */
export type ScoringEngine = 'tfjs' | 'onnxruntime';

/** Something that scores windows of one model version. */
export interface Scorer {
  readonly engine: ScoringEngine;
  infer(windows: WindowBatch, options?: InferOptions): Promise<InferenceResult>;
  /** Frees what the scorer holds beyond the model (the model itself is disposed by its owner). */
  dispose(): void;
}

export interface ScorerOptions extends OnnxScorerOptions {
  /** Default `tfjs`. */
  engine?: ScoringEngine;
}

/**
 * A scorer for `model`. For ONNX Runtime the model's current weights are exported once here, so
 * create one per model version (and again after training the model further).
 */
export async function createScorer(
  model: SequenceAutoencoder,
  options: ScorerOptions = {},
): Promise<Scorer> {
  if (options.engine === 'onnxruntime') {
    return OnnxScorer.create(model, options);
  }
  return {
    engine: 'tfjs',
    infer: (windows, o) => model.infer(windows, o),
    dispose: () => undefined,
  };
}
