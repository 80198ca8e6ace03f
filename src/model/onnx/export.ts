import type * as tf from '@tensorflow/tfjs-core';
import type { SequenceAutoencoder } from '../autoencoder.js';
import { hasPrediction, hasReconstruction, type ModelConfig } from '../config.js';
import { forwardWeights, type ForwardWeights } from '../forward.js';
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

type Decoder = ForwardWeights['decoders'][number];
type DecoderName = 'reconstruction' | 'prediction';

export interface ExportOptions {
  /**
   * Decoders of at most this many steps are written out step by step (see `unrolledDecoder`); longer
   * ones use ONNX's LSTM operator, which keeps the graph small. Default 128.
   */
  unrollUpTo?: number;
}

/**
 * A decoder through ONNX's LSTM operator: Expand (RepeatVector) → LSTM → back to batch-major. The
 * operator projects its input at every step although the input is the same at every step.
 */
function lstmDecoder(
  config: ModelConfig,
  name: DecoderName,
  d: Decoder,
): { nodes: GraphNode[]; initializers: Initializer[]; hidden: string } {
  const p = `${name}_lstm`;
  return {
    initializers: [
      ...lstmInitializers(p, d.lstm, config.units),
      { name: `${name}_steps`, dims: [3], data: int64(d.steps, 1, 1) },
    ],
    nodes: [
      // RepeatVector: [1, batch, units] → [steps, batch, units], time-major as LSTM wants it.
      { op: 'Expand', inputs: ['encoder_h', `${name}_steps`], outputs: [`${name}_repeat`] },
      {
        op: 'LSTM',
        name: p,
        inputs: [`${name}_repeat`, `${p}_W`, `${p}_R`, `${p}_B`],
        outputs: [`${p}_y`],
        attributes: lstmAttributes(config),
      },
      // Y is [steps, directions = 1, batch, units].
      { op: 'Squeeze', inputs: [`${p}_y`, 'axis1'], outputs: [`${p}_tbu`] },
      {
        op: 'Transpose',
        inputs: [`${p}_tbu`],
        outputs: [`${name}_hidden`],
        attributes: [{ name: 'perm', ints: [1, 0, 2] }],
      },
    ],
    hidden: `${name}_hidden`,
  };
}

/**
 * A decoder written out step by step, as forward.ts computes it: the input projection of the repeated
 * encoder vector is one MatMul for all steps (the LSTM operator would redo it at every step), then per
 * step h·R + projection, the gates (Keras' order i, f, c, o, so no reordering) and the new c and h;
 * h and c start at zero, so step 0 skips the recurrent product and the forget gate. About 1.4 times
 * faster than the LSTM operator for the seed's shapes, with more nodes (13 per step).
 */
function unrolledDecoder(
  config: ModelConfig,
  name: DecoderName,
  d: Decoder,
): { nodes: GraphNode[]; initializers: Initializer[]; hidden: string } {
  const { units } = config;
  const act = config.activation === 'relu' ? 'Relu' : 'Tanh';
  const p = `${name}_lstm`;
  const nodes: GraphNode[] = [
    { op: 'MatMul', inputs: [ONNX_NAMES.embedding, `${p}_kernel`], outputs: [`${p}_xw`] },
    { op: 'Add', inputs: [`${p}_xw`, `${p}_bias`], outputs: [`${p}_projected`] },
  ];
  let h = '';
  let c = '';
  const hs: string[] = [];
  for (let t = 0; t < d.steps; t++) {
    const q = `${p}_${t}`;
    if (t === 0) {
      nodes.push({ op: 'Identity', inputs: [`${p}_projected`], outputs: [`${q}_z`] });
    } else {
      nodes.push(
        { op: 'MatMul', inputs: [h, `${p}_recurrent`], outputs: [`${q}_hr`] },
        { op: 'Add', inputs: [`${q}_hr`, `${p}_projected`], outputs: [`${q}_z`] },
      );
    }
    nodes.push(
      {
        op: 'Split',
        inputs: [`${q}_z`, `${p}_split`],
        outputs: [`${q}_zi`, `${q}_zf`, `${q}_zc`, `${q}_zo`],
        attributes: [{ name: 'axis', i: 1 }],
      },
      { op: 'Sigmoid', inputs: [`${q}_zi`], outputs: [`${q}_i`] },
      { op: 'Sigmoid', inputs: [`${q}_zo`], outputs: [`${q}_o`] },
      { op: act, inputs: [`${q}_zc`], outputs: [`${q}_g`] },
      { op: 'Mul', inputs: [`${q}_i`, `${q}_g`], outputs: [t === 0 ? `${q}_c` : `${q}_ig`] },
    );
    if (t > 0) {
      nodes.push(
        { op: 'Sigmoid', inputs: [`${q}_zf`], outputs: [`${q}_f`] },
        { op: 'Mul', inputs: [`${q}_f`, c], outputs: [`${q}_fc`] },
        { op: 'Add', inputs: [`${q}_fc`, `${q}_ig`], outputs: [`${q}_c`] },
      );
    }
    nodes.push(
      { op: act, inputs: [`${q}_c`], outputs: [`${q}_ac`] },
      { op: 'Mul', inputs: [`${q}_o`, `${q}_ac`], outputs: [`${q}_h`] },
      { op: 'Unsqueeze', inputs: [`${q}_h`, 'axis1'], outputs: [`${q}_h1`] },
    );
    h = `${q}_h`;
    c = `${q}_c`;
    hs.push(`${q}_h1`);
  }
  nodes.push({
    op: 'Concat',
    inputs: hs,
    outputs: [`${name}_hidden`],
    attributes: [{ name: 'axis', i: 1 }],
  });
  return {
    nodes,
    initializers: [
      { name: `${p}_kernel`, dims: [units, 4 * units], data: values(d.lstm.kernel) },
      { name: `${p}_recurrent`, dims: [units, 4 * units], data: values(d.lstm.recurrent) },
      { name: `${p}_bias`, dims: [4 * units], data: values(d.lstm.bias) },
      { name: `${p}_split`, dims: [4], data: int64(units, units, units, units) },
    ],
    hidden: `${name}_hidden`,
  };
}

/**
 * The scoring graph of a model as an ONNX model (opset 17): input `window` [batch, nIn, features]
 * (normalised values), outputs `reconstruction` [batch, nIn, features] and/or `prediction`
 * [batch, nOut, features] as the variant has them, and `embedding` [batch, units]. The batch size is
 * free. Weights are copied, so later training of `model` does not change the exported graph.
 *
 * Graph: Transpose to time-major → LSTM operator (encoder) → its last hidden state is the
 * embedding; per decoder: the LSTM over the repeated embedding (RepeatVector), unrolled or as the
 * LSTM operator (see ExportOptions), then MatMul + Add over all steps (TimeDistributed Dense).
 */
export function exportOnnx(model: SequenceAutoencoder, options: ExportOptions = {}): Uint8Array {
  const { config } = model;
  const { nIn, nOut, features, units } = config;
  const unrollUpTo = options.unrollUpTo ?? 128;
  const weights = forwardWeights(model.model, config);
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
      attributes: lstmAttributes(config),
    },
    { op: 'Squeeze', inputs: ['encoder_h', 'axis0'], outputs: [ONNX_NAMES.embedding] },
  ];
  const outputs: Graph['outputs'] = [];
  const decoders: DecoderName[] = [];
  if (hasReconstruction(config.variant)) decoders.push('reconstruction');
  if (hasPrediction(config.variant)) decoders.push('prediction');
  decoders.forEach((name, i) => {
    const d = weights.decoders[i]!;
    const steps = name === 'reconstruction' ? nIn : nOut;
    const decoder = (steps <= unrollUpTo ? unrolledDecoder : lstmDecoder)(config, name, d);
    initializers.push(
      ...decoder.initializers,
      { name: `${name}_kernel`, dims: [units, features], data: values(d.kernel) },
      { name: `${name}_bias`, dims: [features], data: values(d.bias) },
    );
    nodes.push(
      ...decoder.nodes,
      // TimeDistributed Dense: [batch, steps, units]·[units, features].
      { op: 'MatMul', inputs: [decoder.hidden, `${name}_kernel`], outputs: [`${name}_mm`] },
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
