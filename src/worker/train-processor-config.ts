import type { SeqaeConfig } from '../config/index.js';

/** The environment variable through which a training child receives its parent's resolved settings. */
export const RESOLVED_CONFIG_VARIABLE = 'SEQAE_RESOLVED_CONFIG';

/** The parent's configuration, when this process is a training child started by TrainWorker. */
export function configFromParent(env: NodeJS.ProcessEnv = process.env): SeqaeConfig | undefined {
  const raw = env[RESOLVED_CONFIG_VARIABLE];
  return raw ? (JSON.parse(raw) as SeqaeConfig) : undefined;
}
