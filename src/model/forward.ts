import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { LAYER } from './build.js';
import { hasPrediction, hasReconstruction, type ModelConfig } from './config.js';

/**
 * The autoencoder's forward pass written directly in tfjs ops over the layers model's own weight
 * variables, for scoring and training. Same mathematics as the tfjs-layers graph (Keras gate order
 * i, f, c, o), arranged for fewer, larger kernels, which is what a single-threaded backend rewards:
 * - each input projection x·W (+ bias) is one matrix product over all steps, not one per step;
 * - a decoder's input is the same encoder vector at every step (RepeatVector), so its projection
 *   is computed once instead of `steps` times;
 * - the TimeDistributed Dense is one product over all steps.
 */
interface Lstm {
  kernel: tf.Tensor2D;
  recurrent: tf.Tensor2D;
  bias: tf.Tensor1D;
}
interface Decoder {
  lstm: Lstm;
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  steps: number;
}
export interface ForwardWeights {
  encoder: Lstm;
  decoders: Decoder[];
}

function layerVariables(model: tfl.LayersModel, name: string): tf.Tensor[] {
  return model.getLayer(name).trainableWeights.map((w) => w.read());
}

/** The weight variables of a model built by buildAutoencoder (the live variables, not copies). */
export function forwardWeights(model: tfl.LayersModel, config: ModelConfig): ForwardWeights {
  const lstm = (name: string): Lstm => {
    const [kernel, recurrent, bias] = layerVariables(model, name);
    return {
      kernel: kernel as tf.Tensor2D,
      recurrent: recurrent as tf.Tensor2D,
      bias: bias as tf.Tensor1D,
    };
  };
  const decoder = (name: string, steps: number): Decoder => {
    const [kernel, bias] = layerVariables(model, name);
    return {
      lstm: lstm(`${name}_lstm`),
      kernel: kernel as tf.Tensor2D,
      bias: bias as tf.Tensor1D,
      steps,
    };
  };
  const decoders: Decoder[] = [];
  if (hasReconstruction(config.variant)) decoders.push(decoder(LAYER.reconstruction, config.nIn));
  if (hasPrediction(config.variant)) decoders.push(decoder(LAYER.prediction, config.nOut));
  return { encoder: lstm(LAYER.encoder), decoders };
}

type Activation = (x: tf.Tensor) => tf.Tensor;

/** Runs LSTM steps; `projected(t)` is x_t·W + b for step t, [batch, 4u]. Returns every h. */
function run(
  w: Lstm,
  steps: number,
  batch: number,
  projected: (t: number) => tf.Tensor2D,
  act: Activation,
): tf.Tensor2D[] {
  const units = w.recurrent.shape[0];
  let h: tf.Tensor2D = tf.zeros([batch, units]);
  let c: tf.Tensor2D = tf.zeros([batch, units]);
  const hs: tf.Tensor2D[] = [];
  for (let t = 0; t < steps; t++) {
    const z = tf.add(projected(t), tf.matMul(h, w.recurrent));
    const [zi, zf, zc, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
    c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), act(zc!))) as tf.Tensor2D;
    h = tf.mul(tf.sigmoid(zo!), act(c)) as tf.Tensor2D;
    hs.push(h);
  }
  return hs;
}

/**
 * Outputs for x [batch, nIn, features] (normalised): each decoder's output in model order, then the
 * encoder vector. Call inside tf.tidy (or a gradient closure); intermediate tensors are not freed here.
 */
export function forward(weights: ForwardWeights, config: ModelConfig, x: tf.Tensor3D): tf.Tensor[] {
  const [batch, nIn, features] = x.shape;
  const act: Activation = config.activation === 'relu' ? tf.relu : tf.tanh;
  const { encoder } = weights;
  const units = encoder.recurrent.shape[0];
  // x·W for all steps at once: [batch*nIn, f]·[f, 4u] → [batch, nIn, 4u], then step t is a slice.
  const xw = tf.reshape(
    tf.add(tf.matMul(tf.reshape(x, [batch * nIn, features]), encoder.kernel), encoder.bias),
    [batch, nIn, 4 * units],
  );
  // Step t's slice, all cut by one unstack. Not a slice per step: tfjs' gradient of each slice is a
  // pad back to the full [batch, nIn, 4u], and the tape keeps every one of them until the step ends,
  // so training memory grew with nIn² (nIn 64 at batch 256 overran wasm's 4 GB heap, where
  // tfjs-backend-wasm does not check for a failed allocation and crashes later). Unstack's gradient
  // is one stack.
  const xwSteps = tf.unstack(xw, 1) as tf.Tensor2D[];
  const encoded = run(encoder, nIn, batch, (t) => xwSteps[t]!, act).at(-1)!;
  const outputs: tf.Tensor[] = [];
  for (const d of weights.decoders) {
    const projected = tf.add(tf.matMul(encoded, d.lstm.kernel), d.lstm.bias) as tf.Tensor2D;
    const hs = run(d.lstm, d.steps, batch, () => projected, act);
    // [batch, steps, u] → one Dense product over all steps.
    const stacked = tf.reshape(tf.stack(hs, 1), [batch * d.steps, units]);
    const y = tf.add(tf.matMul(stacked, d.kernel), d.bias);
    outputs.push(tf.reshape(y, [batch, d.steps, d.kernel.shape[1]]));
  }
  outputs.push(encoded);
  return outputs;
}
