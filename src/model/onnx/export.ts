import type * as tf from '@tensorflow/tfjs-core';
import type { SequenceAutoencoder } from '../autoencoder.js';
import { hasPrediction, hasReconstruction, type ModelConfig } from '../config.js';
import { forwardWeights } from '../forward.js';
import {
  encodeModel,
  type Attribute,
  type Graph,
  type GraphNode,
  type Initializer,
} from './proto.js';

/** Names of the exported graph's input and outputs. */
export const ONNX_NAMES = {
  input: 'window',
  reconstruction: 'reconstruction',
  prediction: 'prediction',
  embedding: 'embedding',
} as const;

/** The run-time dimension of the input and of every output. */
const BATCH = 'batch';

/**
 * Keras gate blocks (i, f, c, o) → ONNX's (i, o, f, c): ONNX block g holds Keras block KERAS[g].
 */
const KERAS_GATE = [0, 3, 1, 2];

/**
 * A Keras LSTM matrix [rows, 4u] (x·W layout, gates i, f, c, o) as ONNX's [4u, rows] (W·x layout,
 * gates i, o, f, c), flattened. With rows = 1 it reorders a bias.
 */
function onnxGates(k: Float32Array, rows: number, units: number): Float32Array {
  const out = new Float32Array(4 * units * rows);
  KERAS_GATE.forEach((kg, g) => {
    for (let j = 0; j < units; j++)
      for (let r = 0; r < rows; r++)
        out[(g * units + j) * rows + r] = k[r * 4 * units + kg * units + j]!;
  });
  return out;
}

function values(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

function lstmInitializers(
  prefix: string,
  w: { kernel: tf.Tensor2D; recurrent: tf.Tensor2D; bias: tf.Tensor1D },
  units: number,
): Initializer[] {
  const input = w.kernel.shape[0];
  // ONNX has two biases (input and recurrent) that it adds; Keras has one: the recurrent one is zero.
  const bias = new Float32Array(8 * units);
  bias.set(onnxGates(values(w.bias), 1, units));
  return [
    {
      name: `${prefix}_W`,
      dims: [1, 4 * units, input],
      data: onnxGates(values(w.kernel), input, units),
    },
    {
      name: `${prefix}_R`,
      dims: [1, 4 * units, units],
      data: onnxGates(values(w.recurrent), units, units),
    },
    { name: `${prefix}_B`, dims: [1, 8 * units], data: bias },
  ];
}

function lstmAttributes(config: ModelConfig): Attribute[] {
  // Gates f (input, output, forget: sigmoid), g (cell input) and h (cell output): Keras' recurrent
  // activation, then its activation twice.
  const act = config.activation === 'relu' ? 'Relu' : 'Tanh';
  return [
    { name: 'hidden_size', i: config.units },
    { name: 'activations', strings: ['Sigmoid', act, act] },
  ];
}

const int64 = (...xs: number[]) => BigInt64Array.from(xs.map((x) => BigInt(x)));

/**
 * The scoring graph of a model as an ONNX model (opset 17): input `window` [batch, nIn, features]
 * (normalised values), outputs `reconstruction` [batch, nIn, features] and/or `prediction`
 * [batch, nOut, features] as the variant has them, and `embedding` [batch, units]. The batch size is
 * free. Weights are copied, so later training of `model` does not change the exported graph.
 *
 * Graph: Transpose to time-major → LSTM (encoder) → its last hidden state is the embedding; per
 * decoder: Expand (RepeatVector) → LSTM → Transpose back → MatMul + Add (TimeDistributed Dense).
 */
export function exportOnnx(model: SequenceAutoencoder): Uint8Array {
  const { config } = model;
  const { nIn, nOut, features, units } = config;
  const weights = forwardWeights(model.model, config);
  const attributes = lstmAttributes(config);
  const initializers: Initializer[] = [
    ...lstmInitializers('encoder', weights.encoder, units),
    { name: 'axis0', dims: [1], data: int64(0) },
    { name: 'axis1', dims: [1], data: int64(1) },
  ];
  const nodes: GraphNode[] = [
    {
      op: 'Transpose',
      inputs: [ONNX_NAMES.input],
      outputs: ['x_tbf'],
      attributes: [{ name: 'perm', ints: [1, 0, 2] }],
    },
    // Outputs Y (every step, unused) and Y_h [1, batch, units] (the last step).
    {
      op: 'LSTM',
      name: 'encoder',
      inputs: ['x_tbf', 'encoder_W', 'encoder_R', 'encoder_B'],
      outputs: ['', 'encoder_h'],
      attributes,
    },
    { op: 'Squeeze', inputs: ['encoder_h', 'axis0'], outputs: [ONNX_NAMES.embedding] },
  ];
  const outputs: Graph['outputs'] = [];
  const decoders: { name: 'reconstruction' | 'prediction'; steps: number }[] = [];
  if (hasReconstruction(config.variant)) decoders.push({ name: 'reconstruction', steps: nIn });
  if (hasPrediction(config.variant)) decoders.push({ name: 'prediction', steps: nOut });
  decoders.forEach(({ name, steps }, i) => {
    const d = weights.decoders[i]!;
    const p = `${name}_lstm`;
    initializers.push(
      ...lstmInitializers(p, d.lstm, units),
      { name: `${name}_steps`, dims: [3], data: int64(steps, 1, 1) },
      { name: `${name}_kernel`, dims: [units, features], data: values(d.kernel) },
      { name: `${name}_bias`, dims: [features], data: values(d.bias) },
    );
    nodes.push(
      // RepeatVector: [1, batch, units] → [steps, batch, units], time-major as LSTM wants it.
      { op: 'Expand', inputs: ['encoder_h', `${name}_steps`], outputs: [`${name}_repeat`] },
      {
        op: 'LSTM',
        name: p,
        inputs: [`${name}_repeat`, `${p}_W`, `${p}_R`, `${p}_B`],
        outputs: [`${p}_y`],
        attributes,
      },
      // Y is [steps, directions = 1, batch, units].
      { op: 'Squeeze', inputs: [`${p}_y`, 'axis1'], outputs: [`${p}_tbu`] },
      {
        op: 'Transpose',
        inputs: [`${p}_tbu`],
        outputs: [`${p}_btu`],
        attributes: [{ name: 'perm', ints: [1, 0, 2] }],
      },
      { op: 'MatMul', inputs: [`${p}_btu`, `${name}_kernel`], outputs: [`${name}_mm`] },
      { op: 'Add', inputs: [`${name}_mm`, `${name}_bias`], outputs: [ONNX_NAMES[name]] },
    );
    outputs.push({ name: ONNX_NAMES[name], dims: [BATCH, steps, features] });
  });
  outputs.push({ name: ONNX_NAMES.embedding, dims: [BATCH, units] });
  return encodeModel({
    name: `seqae_${config.variant}`,
    nodes,
    initializers,
    inputs: [{ name: ONNX_NAMES.input, dims: [BATCH, nIn, features] }],
    outputs,
  });
}
