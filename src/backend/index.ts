import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// The union package registers chained tensor methods and all gradients on the shared tfjs-core;
// tfjs-layers needs both (orthogonal init calls rMat.flatten(), training needs LSTM gradients).
import '@tensorflow/tfjs';

/** What a user asks for: `auto` tries native TensorFlow, then WebAssembly, then plain JavaScript. */
export type BackendPreference = 'auto' | 'node' | 'wasm' | 'cpu';
/** tfjs' own names of the backends seqae can run on. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  /** Why the backends before it in the order were passed over (empty when the first one served). */
  skipped: { name: BackendName; reason: string }[];
}

const order: Record<BackendPreference, BackendName[]> = {
  auto: ['tensorflow', 'wasm', 'cpu'],
  node: ['tensorflow'],
  wasm: ['wasm'],
  cpu: ['cpu'],
};

let active: BackendInfo | undefined;
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

/**
 * Chooses the compute backend once per process (later calls return the first result). With a forced
 * preference that cannot be met, throws instead of silently running slower.
 */
export function initBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  pending ??= (async () => {
    const skipped: BackendInfo['skipped'] = [];
    for (const name of order[preference]) {
      try {
        await tryBackend(name);
        active = { name, skipped };
        return active;
      } catch (err) {
        skipped.push({
          name,
          reason: err instanceof Error ? err.message.split('\n')[0]! : String(err),
        });
      }
    }
    pending = undefined;
    const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
    throw new Error(`no compute backend for SEQAE_BACKEND=${preference} (${why})`);
  })();
  return pending;
}

/** The backend chosen by initBackend, or undefined before it has run. */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

export { tf };
