/**
 * A minimal protobuf writer for the subset of ONNX's ModelProto that seqae's graphs use, so that
 * exporting needs no protobuf or onnx package. Field numbers are onnx.proto's (IR version 8, opset 17);
 * weights go in `raw_data` as little-endian bytes, which is how typed arrays lie in memory on the
 * little-endian machines onnxruntime-node ships binaries for.
 */

/** Protobuf wire types. */
const VARINT = 0;
const LEN = 2;
const I32 = 5;

class Writer {
  private readonly parts: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  varint(value: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(value));
    while (x >= 0x80n) {
      this.scratch.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.scratch.push(Number(x));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    return this.tag(field, VARINT).varint(value);
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.tag(field, I32).raw(b);
  }

  bytes(field: number, value: Uint8Array): this {
    return this.tag(field, LEN).varint(value.length).raw(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** A repeated int64 field, packed (proto2 parsers accept packed and unpacked alike). */
  packedInts(field: number, values: readonly number[]): this {
    const w = new Writer();
    for (const v of values) w.varint(v);
    return this.bytes(field, w.finish());
  }

  packedFloats(field: number, values: readonly number[]): this {
    return this.bytes(field, new Uint8Array(Float32Array.from(values).buffer));
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Large payloads (weights) are kept as views, not copied byte by byte into `scratch`. */
  private raw(b: Uint8Array): this {
    if (b.length < 64) {
      for (const x of b) this.scratch.push(x);
      return this;
    }
    this.flush();
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  private flush(): void {
    if (this.scratch.length === 0) return;
    this.parts.push(Uint8Array.from(this.scratch));
    this.length += this.scratch.length;
    this.scratch = [];
  }
}

function message(fill: (w: Writer) => void): Uint8Array {
  const w = new Writer();
  fill(w);
  return w.finish();
}

export type Attribute =
  | { name: string; f: number }
  | { name: string; i: number }
  | { name: string; s: string }
  | { name: string; floats: number[] }
  | { name: string; ints: number[] }
  | { name: string; strings: string[] };

export interface GraphNode {
  op: string;
  inputs: string[];
  /** An empty name leaves that optional output out (e.g. LSTM's Y when only Y_h is wanted). */
  outputs: string[];
  name?: string;
  attributes?: Attribute[];
}

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface ValueInfo {
  name: string;
  /** A number is a fixed size; a string names a dimension given at run time (e.g. `batch`). */
  dims: (number | string)[];
}

export interface Graph {
  name: string;
  nodes: GraphNode[];
  initializers: Initializer[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

// AttributeProto.AttributeType and TensorProto.DataType values.
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const DTYPE = { FLOAT: 1, INT64: 7 } as const;

const attribute = (a: Attribute) =>
  message((w) => {
    w.string(1, a.name);
    if ('f' in a) w.float(2, a.f).int(20, ATTR.FLOAT);
    else if ('i' in a) w.int(3, a.i).int(20, ATTR.INT);
    else if ('s' in a) w.string(4, a.s).int(20, ATTR.STRING);
    else if ('floats' in a) w.packedFloats(7, a.floats).int(20, ATTR.FLOATS);
    else if ('ints' in a) w.packedInts(8, a.ints).int(20, ATTR.INTS);
    else {
      for (const s of a.strings) w.string(9, s);
      w.int(20, ATTR.STRINGS);
    }
  });

const node = (n: GraphNode) =>
  message((w) => {
    for (const i of n.inputs) w.string(1, i);
    for (const o of n.outputs) w.string(2, o);
    if (n.name) w.string(3, n.name);
    w.string(4, n.op);
    for (const a of n.attributes ?? []) w.bytes(5, attribute(a));
  });

const tensor = (t: Initializer) =>
  message((w) => {
    const size = t.dims.reduce((a, b) => a * b, 1);
    if (size !== t.data.length)
      throw new Error(`initializer ${t.name}: ${t.data.length} values for dims [${t.dims}]`);
    w.packedInts(1, t.dims);
    w.int(2, t.data instanceof Float32Array ? DTYPE.FLOAT : DTYPE.INT64);
    w.string(8, t.name);
    w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });

const valueInfo = (v: ValueInfo) =>
  message((w) => {
    const shape = message((s) => {
      for (const d of v.dims)
        s.bytes(
          1,
          message((dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d))),
        );
    });
    const tensorType = message((t) => t.int(1, DTYPE.FLOAT).bytes(2, shape));
    w.string(1, v.name).bytes(
      2,
      message((t) => t.bytes(1, tensorType)),
    );
  });

/** ONNX IR version 8 goes with opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;
export const OPSET = 17;

/** The serialised ModelProto of `graph` (default-domain operators of opset 17, float tensors). */
export function encodeModel(graph: Graph, producerVersion = ''): Uint8Array {
  const g = message((w) => {
    for (const n of graph.nodes) w.bytes(1, node(n));
    w.string(2, graph.name);
    for (const t of graph.initializers) w.bytes(5, tensor(t));
    for (const v of graph.inputs) w.bytes(11, valueInfo(v));
    for (const v of graph.outputs) w.bytes(12, valueInfo(v));
  });
  return message((w) => {
    w.int(1, IR_VERSION);
    w.string(2, 'seqae');
    if (producerVersion) w.string(3, producerVersion);
    w.bytes(7, g);
    w.bytes(
      8,
      message((o) => o.string(1, '').int(2, OPSET)),
    );
  });
}
