import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// The union package registers chained tensor methods and all gradients on the shared tfjs-core;
// tfjs-layers needs both (orthogonal init calls rMat.flatten(), training needs LSTM gradients).
import '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';

/**
 * What a user asks for (SEQAE_BACKEND). Training always runs on tfjs; scoring (every window) runs on
 * tfjs or on ONNX Runtime:
 * - `auto`: train on the first tfjs backend that starts of tensorflow (tfjs-node), wasm, cpu; score
 *   on ONNX Runtime when onnxruntime-node loads and tfjs-node is not the training backend (native
 *   TensorFlow scores about as fast), else on the training backend.
 * - `onnx`: train as `auto` does; score on ONNX Runtime, and fail when it does not load.
 * - `node`, `wasm`, `cpu`: train and score on that tfjs backend alone (tfjs is the reference).
 */
export type BackendPreference = 'auto' | 'onnx' | 'node' | 'wasm' | 'cpu';
/** tfjs' own names of the backends seqae can run on. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
/** Where windows are scored: ONNX Runtime, or a tfjs backend. */
export type ScoringBackend = 'onnxruntime' | BackendName;

export interface BackendInfo {
  /** The tfjs backend: every training runs on it, and scoring too unless `scoring` says otherwise. */
  name: BackendName;
  /** Why the backends before it in the order were passed over (empty when the first one served). */
  skipped: { name: BackendName; reason: string }[];
  /**
   * Where windows are scored: `onnxruntime` or `name`. This is the `backend` label of
   * seqae_build_info, since scoring is what a worker spends its time on.
   */
  scoring: ScoringBackend;
  /** Why ONNX Runtime does not score under `auto` (absent when it does or was not considered). */
  scoringNote?: string;
}

export interface InitBackendOptions {
  /**
   * Whether this process scores windows. Default true. A process that only trains passes false and
   * never loads ONNX Runtime; its `scoring` is then its tfjs backend.
   */
  scoring?: boolean;
}

const order: Record<BackendPreference, BackendName[]> = {
  auto: ['tensorflow', 'wasm', 'cpu'],
  onnx: ['tensorflow', 'wasm', 'cpu'],
  node: ['tensorflow'],
  wasm: ['wasm'],
  cpu: ['cpu'],
};

let pending: Promise<BackendInfo> | undefined;

async function tryBackend(name: BackendName): Promise<void> {
  if (name === 'tensorflow') {
    // Optional dependency: absent where its install could not fetch libtensorflow. Importing it
    // registers the `tensorflow` backend on the shared tfjs-core instance.
    await import('@tensorflow/tfjs-node' as string);
  }
  if (!(await tf.setBackend(name)))
    throw new Error(`tfjs could not initialise the ${name} backend`);
  await tf.ready();
}

export type OnnxRuntime = typeof Ort;
let onnxRuntime: Promise<OnnxRuntime> | undefined;

/**
 * onnxruntime-node, imported on first use only: importing it loads its native library, which a
 * process that never scores on it should not pay for. Rejects when the library does not load.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  onnxRuntime ??= import('onnxruntime-node').catch((err: unknown) => {
    onnxRuntime = undefined;
    throw err;
  });
  return onnxRuntime;
}

/**
 * The scoring decision (the rules of BackendPreference), given the training backend: `onnxRuntime` says whether
 * onnxruntime-node loads (true) or why not (a string); it is only asked for when it matters.
 * Throws for `onnx` when ONNX Runtime does not load.
 */
export async function chooseScoring(
  preference: BackendPreference,
  training: BackendName,
  onnxRuntime: () => Promise<true | string>,
): Promise<Pick<BackendInfo, 'scoring' | 'scoringNote'>> {
  if (preference !== 'auto' && preference !== 'onnx') return { scoring: training };
  if (preference === 'auto' && training === 'tensorflow')
    return { scoring: training, scoringNote: 'tfjs-node is active' };
  const loads = await onnxRuntime();
  if (loads === true) return { scoring: 'onnxruntime' };
  if (preference === 'onnx')
    throw new Error(`SEQAE_BACKEND=onnx: onnxruntime-node does not load (${loads})`);
  return { scoring: training, scoringNote: `onnxruntime-node does not load: ${loads}` };
}

const firstLine = (err: unknown) =>
  err instanceof Error ? err.message.split('\n')[0]! : String(err);

const onnxRuntimeLoads = () =>
  loadOnnxRuntime().then(
    () => true as const,
    (err: unknown) => firstLine(err),
  );

/**
 * Chooses the compute backends once per process (later calls return the first result, whatever
 * their arguments). With a forced preference that cannot be met, throws instead of silently running
 * slower. The decision is made here alone; see BackendPreference for the rules.
 */
export function initBackend(
  preference: BackendPreference = 'auto',
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  pending ??= (async () => {
    const skipped: BackendInfo['skipped'] = [];
    for (const name of order[preference]) {
      try {
        await tryBackend(name);
      } catch (err) {
        skipped.push({ name, reason: firstLine(err) });
        continue;
      }
      try {
        return {
          name,
          skipped,
          ...((options.scoring ?? true)
            ? await chooseScoring(preference, name, onnxRuntimeLoads)
            : { scoring: name }),
        };
      } catch (err) {
        pending = undefined;
        throw err;
      }
    }
    pending = undefined;
    const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
    throw new Error(`no compute backend for SEQAE_BACKEND=${preference} (${why})`);
  })();
  return pending;
}

/** The engine that scores windows under `info`: ONNX Runtime, or tfjs on its active backend. */
export function scoringEngine(info: BackendInfo): 'onnxruntime' | 'tfjs' {
  return info.scoring === 'onnxruntime' ? 'onnxruntime' : 'tfjs';
}

export { tf };

/** Live tfjs tensors in this process: flat over a long run unless something leaks them. */
export const liveTensors = (): number => tf.memory().numTensors;
