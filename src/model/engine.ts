import type { SequenceAutoencoder } from './autoencoder.js';
import type { EngineKind, InferenceEngine } from './inference.js';
import { OnnxEngine, type OnnxEngineOptions } from './onnx/engine.js';

export interface InferenceEngineOptions extends OnnxEngineOptions {
  /** Default `tfjs`. */
  kind?: EngineKind;
}

/**
 * An inference engine for `model`. For ONNX Runtime the model's current weights are exported once
 * here, so create one per model version (and again after training the model further).
 */
export async function createInferenceEngine(
  model: SequenceAutoencoder,
  options: InferenceEngineOptions = {},
): Promise<InferenceEngine> {
  if (options.kind === 'onnxruntime') {
    return OnnxEngine.create(model, options);
  }
  return {
    kind: 'tfjs',
    infer: (windows, o) => model.infer(windows, o),
    dispose: () => undefined,
  };
}
