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

type LstmWeights = ForwardWeights['encoder'];

/** Initializers `<prefix>_W`, `_R`, `_B` of ONNX's LSTM operator. */
function lstmInitializers(prefix: string, w: LstmWeights, units: number): Initializer[] {
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

const int64 = (...xs: number[]) => BigInt64Array.from(xs.map((x) => BigInt(x)));

type DecoderName = 'reconstruction' | 'prediction';

export interface ExportOptions {
  /**
   * Decoders of at most this many steps are written out step by step (see `unrolledLstm`); longer
   * ones use ONNX's LSTM operator, which keeps the graph small. Default 128.
   */
  unrollUpTo?: number;
}

/** Nodes and initializers under construction; names are unique by their prefixes. */
interface Builder {
  config: ModelConfig;
  nodes: GraphNode[];
  initializers: Initializer[];
}

/**
 * A decoder's LSTM written out step by step, as forward.ts computes it, with its recurrent kernel in
 * the initializer `<p>_recurrent`. Its input is the same at every step (RepeatVector), so
 * `projected`, x·W + b [..., batch, 4u], is computed once; ONNX's LSTM
 * operator would project it again at every step, and this is about 1.4 times faster for the seed's
 * shapes. Per step: h·R + projection (one fused Gemm), the gates in Keras' order (i, f, c, o, so no
 * reordering), the new c and h; h and c start at zero, so step 0 has no recurrent product and no
 * forget gate. Returns the name of h [batch, units] at every step.
 */
function unrolledLstm(b: Builder, p: string, steps: number, projected: string): string[] {
  const { units } = b.config;
  const act = b.config.activation === 'relu' ? 'Relu' : 'Tanh';
  b.initializers.push({ name: `${p}_split`, dims: [4], data: int64(units, units, units, units) });
  const hs: string[] = [];
  let c = '';
  for (let t = 0; t < steps; t++) {
    const q = `${p}_${t}`;
    const z = t === 0 ? projected : `${q}_z`;
    if (t > 0) {
      b.nodes.push(
        { op: 'MatMul', inputs: [hs[t - 1]!, `${p}_recurrent`], outputs: [`${q}_hr`] },
        { op: 'Add', inputs: [`${q}_hr`, projected], outputs: [z] },
      );
    }
    b.nodes.push(
      {
        op: 'Split',
        inputs: [z, `${p}_split`],
        outputs: [`${q}_zi`, `${q}_zf`, `${q}_zc`, `${q}_zo`],
        attributes: [{ name: 'axis', i: -1 }],
      },
      { op: 'Sigmoid', inputs: [`${q}_zi`], outputs: [`${q}_i`] },
      { op: 'Sigmoid', inputs: [`${q}_zo`], outputs: [`${q}_o`] },
      { op: act, inputs: [`${q}_zc`], outputs: [`${q}_g`] },
      { op: 'Mul', inputs: [`${q}_i`, `${q}_g`], outputs: [t === 0 ? `${q}_c` : `${q}_ig`] },
    );
    if (t > 0) {
      b.nodes.push(
        { op: 'Sigmoid', inputs: [`${q}_zf`], outputs: [`${q}_f`] },
        { op: 'Mul', inputs: [`${q}_f`, c], outputs: [`${q}_fc`] },
        { op: 'Add', inputs: [`${q}_fc`, `${q}_ig`], outputs: [`${q}_c`] },
      );
    }
    b.nodes.push(
      { op: act, inputs: [`${q}_c`], outputs: [`${q}_ac`] },
      { op: 'Mul', inputs: [`${q}_o`, `${q}_ac`], outputs: [`${q}_h`] },
    );
    c = `${q}_c`;
    hs.push(`${q}_h`);
  }
  return hs;
}

/** ONNX's LSTM operator over time-major `x` [steps, batch, input]; returns its Y and Y_h. */
function lstmOperator(b: Builder, p: string, w: LstmWeights, x: string): [string, string] {
  const { config } = b;
  const act = config.activation === 'relu' ? 'Relu' : 'Tanh';
  b.initializers.push(...lstmInitializers(p, w, config.units));
  // Activations of gates f (input, output, forget), g (cell input) and h (cell output): Keras'
  // recurrent activation, then its activation twice.
  const attributes: Attribute[] = [
    { name: 'hidden_size', i: config.units },
    { name: 'activations', strings: ['Sigmoid', act, act] },
  ];
  b.nodes.push({
    op: 'LSTM',
    name: p,
    inputs: [x, `${p}_W`, `${p}_R`, `${p}_B`],
    outputs: [`${p}_y`, `${p}_yh`],
    attributes,
  });
  return [`${p}_y`, `${p}_yh`];
}

/**
 * The encoder: `window` [batch, nIn, features] → `embedding` [batch, units], through ONNX's LSTM
 * operator (unrolling it measured no faster: its input projection is small and done once).
 */
function encoder(b: Builder, w: LstmWeights): void {
  b.nodes.push({
    op: 'Transpose',
    inputs: [ONNX_NAMES.input],
    outputs: ['encoder_x'],
    attributes: [{ name: 'perm', ints: [1, 0, 2] }],
  });
  const [, yh] = lstmOperator(b, 'encoder', w, 'encoder_x');
  b.nodes.push({ op: 'Squeeze', inputs: [yh, 'axis0'], outputs: [ONNX_NAMES.embedding] });
}

/**
 * A decoder: the LSTM over the embedding repeated `steps` times (RepeatVector), then the Dense layer
 * over every step at once (TimeDistributed), to its output [batch, steps, features].
 */
function decoder(
  b: Builder,
  name: DecoderName,
  d: ForwardWeights['decoders'][number],
  unroll: boolean,
): void {
  const { units, features } = b.config;
  const p = `${name}_lstm`;
  const hidden = `${name}_hidden`; // [batch, steps, units]
  if (!b.initializers.some((i) => i.name === 'axis1')) {
    b.initializers.push({ name: 'axis1', dims: [1], data: int64(1) });
  }
  if (unroll) {
    // The input is the same at every step: its projection is one product, shared by every step.
    b.initializers.push(
      { name: `${p}_kernel`, dims: [units, 4 * units], data: values(d.lstm.kernel) },
      { name: `${p}_bias`, dims: [4 * units], data: values(d.lstm.bias) },
    );
    b.initializers.push({
      name: `${p}_recurrent`,
      dims: [units, 4 * units],
      data: values(d.lstm.recurrent),
    });
    b.nodes.push(
      { op: 'MatMul', inputs: [ONNX_NAMES.embedding, `${p}_kernel`], outputs: [`${p}_xw`] },
      { op: 'Add', inputs: [`${p}_xw`, `${p}_bias`], outputs: [`${p}_projected`] },
    );
    const hs = unrolledLstm(b, p, d.steps, `${p}_projected`);
    hs.forEach((h) => b.nodes.push({ op: 'Unsqueeze', inputs: [h, 'axis1'], outputs: [`${h}1`] }));
    b.nodes.push({
      op: 'Concat',
      inputs: hs.map((h) => `${h}1`),
      outputs: [hidden],
      attributes: [{ name: 'axis', i: 1 }],
    });
  } else {
    b.initializers.push({ name: `${name}_steps`, dims: [3], data: int64(d.steps, 1, 1) });
    b.nodes.push(
      { op: 'Unsqueeze', inputs: [ONNX_NAMES.embedding, 'axis0'], outputs: [`${name}_h`] },
      // [1, batch, units] → [steps, batch, units], time-major as the operator wants it.
      { op: 'Expand', inputs: [`${name}_h`, `${name}_steps`], outputs: [`${name}_repeat`] },
    );
    const [y] = lstmOperator(b, p, d.lstm, `${name}_repeat`);
    // Y is [steps, directions = 1, batch, units].
    b.nodes.push(
      { op: 'Squeeze', inputs: [y, 'axis1'], outputs: [`${p}_tbu`] },
      {
        op: 'Transpose',
        inputs: [`${p}_tbu`],
        outputs: [hidden],
        attributes: [{ name: 'perm', ints: [1, 0, 2] }],
      },
    );
  }
  b.initializers.push(
    { name: `${name}_kernel`, dims: [units, features], data: values(d.kernel) },
    { name: `${name}_bias`, dims: [features], data: values(d.bias) },
  );
  b.nodes.push(
    { op: 'MatMul', inputs: [hidden, `${name}_kernel`], outputs: [`${name}_mm`] },
    { op: 'Add', inputs: [`${name}_mm`, `${name}_bias`], outputs: [ONNX_NAMES[name]] },
  );
}

const stack = (...parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/**
 * The composite model's two decoders as one: when both have the same number of steps, their LSTMs
 * run side by side as one batched product per step ([2, batch, units] · [2, units, 4u]) and one set
 * of gate operations, which halves the graph's nodes (on two cores, per-node overhead is a good part
 * of a step), and their Dense layers as one batched product, split into the two outputs at the end.
 */
function pairedDecoders(
  b: Builder,
  r: ForwardWeights['decoders'][number],
  q: ForwardWeights['decoders'][number],
): void {
  const { units, features } = b.config;
  const p = 'decoders_lstm';
  b.initializers.push(
    {
      name: `${p}_kernel`,
      dims: [2, units, 4 * units],
      data: stack(values(r.lstm.kernel), values(q.lstm.kernel)),
    },
    {
      name: `${p}_bias`,
      dims: [2, 1, 4 * units],
      data: stack(values(r.lstm.bias), values(q.lstm.bias)),
    },
    {
      name: `${p}_recurrent`,
      dims: [2, units, 4 * units],
      data: stack(values(r.lstm.recurrent), values(q.lstm.recurrent)),
    },
    {
      name: 'decoders_kernel',
      dims: [2, 1, units, features],
      data: stack(values(r.kernel), values(q.kernel)),
    },
    {
      name: 'decoders_bias',
      dims: [2, 1, 1, features],
      data: stack(values(r.bias), values(q.bias)),
    },
    { name: 'axis2', dims: [1], data: int64(2) },
  );
  // [batch, u] · [2, u, 4u] → [2, batch, 4u]: both decoders' input projections in one product.
  b.nodes.push(
    { op: 'MatMul', inputs: [ONNX_NAMES.embedding, `${p}_kernel`], outputs: [`${p}_xw`] },
    { op: 'Add', inputs: [`${p}_xw`, `${p}_bias`], outputs: [`${p}_projected`] },
  );
  const hs = unrolledLstm(b, p, r.steps, `${p}_projected`);
  hs.forEach((h) => b.nodes.push({ op: 'Unsqueeze', inputs: [h, 'axis2'], outputs: [`${h}2`] }));
  b.nodes.push(
    // [2, batch, steps, u] · [2, 1, u, f] + [2, 1, 1, f] → [2, batch, steps, f]
    {
      op: 'Concat',
      inputs: hs.map((h) => `${h}2`),
      outputs: ['decoders_hidden'],
      attributes: [{ name: 'axis', i: 2 }],
    },
    { op: 'MatMul', inputs: ['decoders_hidden', 'decoders_kernel'], outputs: ['decoders_mm'] },
    { op: 'Add', inputs: ['decoders_mm', 'decoders_bias'], outputs: ['decoders_out'] },
    {
      op: 'Split',
      inputs: ['decoders_out'],
      outputs: ['decoders_r', 'decoders_p'],
      attributes: [{ name: 'axis', i: 0 }],
    },
    { op: 'Squeeze', inputs: ['decoders_r', 'axis0'], outputs: [ONNX_NAMES.reconstruction] },
    { op: 'Squeeze', inputs: ['decoders_p', 'axis0'], outputs: [ONNX_NAMES.prediction] },
  );
}

/**
 * The scoring graph of a model as an ONNX model (opset 17): input `window` [batch, nIn, features]
 * (normalised values), outputs `reconstruction` [batch, nIn, features] and/or `prediction`
 * [batch, nOut, features] as the variant has them, and `embedding` [batch, units]. The batch size is
 * free. Weights are copied, so later training of `model` does not change the exported graph.
 *
 * Graph: the encoder LSTM over the window, whose last hidden state is the embedding; per decoder,
 * the LSTM over the repeated embedding (RepeatVector), unrolled or ONNX's LSTM operator (see
 * ExportOptions), then MatMul + Add over all steps (TimeDistributed Dense).
 */
export function exportOnnx(model: SequenceAutoencoder, options: ExportOptions = {}): Uint8Array {
  const { config } = model;
  const { nIn, nOut, features, units } = config;
  const unrollUpTo = options.unrollUpTo ?? 128;
  const weights = forwardWeights(model.model, config);
  const b: Builder = {
    config,
    nodes: [],
    initializers: [{ name: 'axis0', dims: [1], data: int64(0) }],
  };
  encoder(b, weights.encoder);
  const outputs: Graph['outputs'] = [];
  const names: DecoderName[] = [];
  if (hasReconstruction(config.variant)) names.push('reconstruction');
  if (hasPrediction(config.variant)) names.push('prediction');
  const [first, second] = weights.decoders;
  const paired =
    second !== undefined && first!.steps === second.steps && first!.steps <= unrollUpTo;
  if (paired) pairedDecoders(b, first!, second);
  names.forEach((name, i) => {
    const d = weights.decoders[i]!;
    if (!paired) decoder(b, name, d, d.steps <= unrollUpTo);
    outputs.push({
      name: ONNX_NAMES[name],
      dims: [BATCH, name === 'reconstruction' ? nIn : nOut, features],
    });
  });
  outputs.push({ name: ONNX_NAMES.embedding, dims: [BATCH, units] });
  return encodeModel({
    name: `seqae_${config.variant}`,
    nodes: b.nodes,
    initializers: b.initializers,
    inputs: [{ name: ONNX_NAMES.input, dims: [BATCH, nIn, features] }],
    outputs,
  });
}
