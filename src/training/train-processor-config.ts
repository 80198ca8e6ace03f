import type { SeqaeConfig } from '../config/index.js';

/**
 * How a training child gets its configuration: its parent's resolved SeqaeConfig, flags and test
 * overrides included, as JSON in one variable of the child's environment. The child never reads the
 * settings' own variables.
 */
const RESOLVED_CONFIG_VARIABLE = 'SEQAE_RESOLVED_CONFIG';

/** The environment of a training child of a parent configured with `config`. */
export function trainingChildEnv(config: SeqaeConfig): NodeJS.ProcessEnv {
  return { ...process.env, [RESOLVED_CONFIG_VARIABLE]: JSON.stringify(config) };
}

/** The parent's configuration, in a training child started by TrainWorker. */
export function configFromParent(env: NodeJS.ProcessEnv = process.env): SeqaeConfig {
  const raw = env[RESOLVED_CONFIG_VARIABLE];
  if (!raw)
    throw new Error(`${RESOLVED_CONFIG_VARIABLE} is not set: TrainWorker starts this child`);
  return JSON.parse(raw) as SeqaeConfig;
}
