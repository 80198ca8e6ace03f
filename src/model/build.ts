import '../backend/index.js';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { hasPrediction, hasReconstruction, type ModelConfig } from './config.js';

/** Layer names, stable because artifacts and the standalone encoder find layers by them. */
export const LAYER = {
  input: 'window',
  encoder: 'encoder',
  reconstruction: 'reconstruction',
  prediction: 'prediction',
} as const;

/**
 * Keras 2's LSTM defaults, which tfjs-layers does not share: tfjs defaults to a hard-sigmoid gate,
 * glorotNormal kernels and no unit forget bias. Matching Keras is what brings the seed parity close.
 */
function lstm(config: ModelConfig, name: string, seed: number, returnSequences: boolean) {
  return tfl.layers.lstm({
    name,
    units: config.units,
    activation: config.activation,
    recurrentActivation: 'sigmoid',
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    recurrentInitializer: tfl.initializers.orthogonal({ seed: seed + 1, gain: 1 }),
    unitForgetBias: true,
    returnSequences,
  });
}

function decoder(
  config: ModelConfig,
  encoded: SymbolicTensor,
  name: string,
  steps: number,
  seed: number,
): SymbolicTensor {
  const repeated = tfl.layers.repeatVector({ n: steps, name: `${name}_repeat` }).apply(encoded);
  const hidden = lstm(config, `${name}_lstm`, seed, true).apply(repeated);
  const dense = tfl.layers.dense({
    units: config.features,
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }),
  });
  return tfl.layers.timeDistributed({ layer: dense, name }).apply(hidden) as SymbolicTensor;
}

/**
 * The seed's autoencoder for `config.variant`: LSTM encoder → RepeatVector → LSTM decoder(s) →
 * TimeDistributed(Dense(features)). Outputs in the order [reconstruction, prediction], each present
 * only in the variants that have it. Weights are initialised from `config.seed`.
 */
export function buildAutoencoder(config: ModelConfig): tfl.LayersModel {
  // tfjs-layers' unit-forget-bias initialiser leaves its intermediate tensors behind; a tidy scope
  // frees them (variables, the weights themselves, are never freed by tidy).
  let model: tfl.LayersModel | undefined;
  tf.tidy(() => {
    model = quietly(() => build(config));
  });
  return model!;
}

/**
 * tfjs-layers warns on every orthogonal initialisation above 2000 elements (every 100-unit LSTM);
 * the QR it runs takes milliseconds here, so the warning is noise in a worker's logs.
 */
export function quietly<T>(fn: () => T): T {
  const warn = console.warn;
  const restore = () => void (console.warn = warn);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Orthogonal initializer')) return;
    warn(...args);
  };
  let result: T;
  try {
    result = fn();
  } catch (err) {
    restore();
    throw err;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}

function build(config: ModelConfig): tfl.LayersModel {
  const input = tfl.input({ shape: [config.nIn, config.features], name: LAYER.input });
  const encoded = lstm(config, LAYER.encoder, config.seed * 16, false).apply(
    input,
  ) as SymbolicTensor;
  const outputs: SymbolicTensor[] = [];
  if (hasReconstruction(config.variant)) {
    outputs.push(decoder(config, encoded, LAYER.reconstruction, config.nIn, config.seed * 16 + 4));
  }
  if (hasPrediction(config.variant)) {
    outputs.push(decoder(config, encoded, LAYER.prediction, config.nOut, config.seed * 16 + 8));
  }
  return tfl.model({ inputs: input, outputs, name: `seqae_${config.variant}` });
}

/** The standalone encoder of any trained autoencoder: same input, outputs the encoder vector. */
export function standaloneEncoder(model: tfl.LayersModel): tfl.LayersModel {
  return tfl.model({
    inputs: model.inputs,
    outputs: model.getLayer(LAYER.encoder).output as SymbolicTensor,
    name: 'seqae_encoder',
  });
}

/** One graph giving every decoder's output and the encoder vector (last) in one pass. */
export function scoringModel(model: tfl.LayersModel): tfl.LayersModel {
  return tfl.model({
    inputs: model.inputs,
    outputs: [...model.outputs, model.getLayer(LAYER.encoder).output as SymbolicTensor],
    name: 'seqae_scoring',
  });
}
