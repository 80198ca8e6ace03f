import { availableParallelism } from 'node:os';
import type { InferenceSession } from 'onnxruntime-node';
import { loadOnnxRuntime, type OnnxRuntime } from '../../backend/index.js';
import type { SequenceAutoencoder } from '../autoencoder.js';
import { hasPrediction, hasReconstruction, type ModelConfig } from '../config.js';
import {
  runInference,
  type InferenceEngine,
  type InferenceResult,
  type InferOptions,
  type WindowBatch,
} from '../inference.js';
import type { Normalisation } from '../normalise.js';
import { exportOnnx, ONNX_NAMES, type ExportOptions } from './export.js';
import { OnnxThread } from './session-thread.js';

export interface OnnxEngineOptions extends ExportOptions {
  /** ONNX Runtime's intra-op threads (one operator split across cores). Default: the CPUs there are. */
  threads?: number;
  /**
   * Run the model on the process's ONNX thread (`session-thread.ts`) rather than on the calling
   * one, which onnxruntime-node blocks for the whole call. Default false.
   */
  offThread?: boolean;
}

/** A session's forward pass: the input [n, nIn, features] in, the named outputs out. */
type Run = (input: Float32Array, dims: number[], names: string[]) => Promise<Float32Array[]>;

/**
 * Runs a model exported to ONNX on ONNX Runtime: the same outputs, units and reconstruction error as
 * SequenceAutoencoder.infer (which stays the reference), natively. It holds a copy of the model's
 * weights and normalisation as they were at create(): later training of the model needs a new
 * engine. Call dispose() when done.
 */
export class OnnxEngine implements InferenceEngine {
  readonly kind = 'onnxruntime';

  private constructor(
    private readonly run: Run,
    private readonly release: () => void,
    readonly config: ModelConfig,
    private readonly normalisation: Normalisation,
  ) {}

  static async create(
    model: SequenceAutoencoder,
    options: OnnxEngineOptions = {},
  ): Promise<OnnxEngine> {
    const ort = await loadOnnxRuntime();
    const bytes = exportOnnx(model, options);
    const sessionOptions = {
      intraOpNumThreads: Math.max(1, options.threads || availableParallelism()),
      // One graph node at a time: the LSTMs depend on each other, and a second pool would only
      // compete with the intra-op threads for the same cores.
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Idle pool threads block instead of spinning between calls: a worker shares its cores with
      // its Kafka client, the broker and the producer, and the spinning took a quarter of its CPU.
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    } satisfies InferenceSession.SessionOptions;
    const { run, release } = options.offThread
      ? await onThread(bytes, sessionOptions)
      : await inProcess(ort, bytes, sessionOptions);
    const { kind, offset, scale } = model.normalisation;
    return new OnnxEngine(run, release, model.config, {
      kind,
      offset: [...offset],
      scale: [...scale],
    });
  }

  /** Reconstruction, prediction and encoder vector of every window, in chunks of `batchSize` (256). */
  infer(windows: WindowBatch, options: InferOptions = {}): Promise<InferenceResult> {
    const { nIn, features } = this.config;
    // Output order as runInference wants it: decoders in model order, then the embedding.
    const names = [
      ...(hasReconstruction(this.config.variant) ? [ONNX_NAMES.reconstruction] : []),
      ...(hasPrediction(this.config.variant) ? [ONNX_NAMES.prediction] : []),
      ONNX_NAMES.embedding,
    ];
    return runInference(
      this.config,
      this.normalisation,
      windows,
      (input, n) => this.run(input, [n, nIn, features], names),
      options,
    );
  }

  /** Frees the session (native memory). The engine is unusable afterwards. */
  dispose(): void {
    this.release();
  }
}

/** A session on this thread. */
async function inProcess(
  ort: OnnxRuntime,
  bytes: Uint8Array,
  options: InferenceSession.SessionOptions,
): Promise<{ run: Run; release: () => void }> {
  const session = await ort.InferenceSession.create(bytes, options);
  return {
    run: async (input, dims, names) => {
      const out = await session.run({ [ONNX_NAMES.input]: new ort.Tensor('float32', input, dims) });
      return names.map((name) => out[name]!.data as Float32Array);
    },
    release: () => void session.release().catch(() => undefined),
  };
}

/** A session on the process's ONNX thread. */
async function onThread(
  bytes: Uint8Array,
  options: InferenceSession.SessionOptions,
): Promise<{ run: Run; release: () => void }> {
  const session = await OnnxThread.session(bytes, options);
  return {
    // The input is a view into the caller's batch, still read after the call: a copy crosses over.
    run: (input, dims, names) => session.run(input.slice(), dims, ONNX_NAMES.input, names),
    release: () => session.release(),
  };
}
