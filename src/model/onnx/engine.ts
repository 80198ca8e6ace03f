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

export interface OnnxEngineOptions extends ExportOptions {
  /** ONNX Runtime's intra-op threads (one operator split across cores). Default: the CPUs there are. */
  threads?: number;
}

/**
 * Runs a model exported to ONNX on ONNX Runtime: the same outputs, units and reconstruction error as
 * SequenceAutoencoder.infer (which stays the reference), natively. It holds a copy of the model's
 * weights and normalisation as they were at create(): later training of the model needs a new
 * engine. Call dispose() when done.
 */
export class OnnxEngine implements InferenceEngine {
  readonly kind = 'onnxruntime';

  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly session: InferenceSession,
    readonly config: ModelConfig,
    private readonly normalisation: Normalisation,
  ) {}

  static async create(
    model: SequenceAutoencoder,
    options: OnnxEngineOptions = {},
  ): Promise<OnnxEngine> {
    const ort = await loadOnnxRuntime();
    const bytes = exportOnnx(model, options);
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: Math.max(1, options.threads || availableParallelism()),
      // One graph node at a time: the LSTMs depend on each other, and a second pool would only
      // compete with the intra-op threads for the same cores.
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Idle pool threads block instead of spinning between calls: a worker shares its cores with
      // its Kafka client, the broker and the producer, and the spinning took a quarter of its CPU.
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
    const { kind, offset, scale } = model.normalisation;
    return new OnnxEngine(ort, session, model.config, {
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
      async (input, n) => {
        const x = new this.ort.Tensor('float32', input, [n, nIn, features]);
        const out = await this.session.run({ [ONNX_NAMES.input]: x });
        return names.map((name) => out[name]!.data as Float32Array);
      },
      options,
    );
  }

  /** Frees the session (native memory). The engine is unusable afterwards. */
  dispose(): void {
    void this.session.release().catch(() => undefined);
  }
}
