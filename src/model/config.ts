import { z } from 'zod';
import { ValidationError } from '../errors/index.js';

/** The three autoencoders of the seed notebook. */
export type Variant = 'reconstruction' | 'prediction' | 'composite';

/**
 * What the prediction decoder learns to output.
 * - `next` (default): the window shifted one step forward, last `nOut` rows; its last row is the genuine
 *   one-step-ahead forecast. Needs the reading after the window when training.
 * - `seed`: the notebook's setting, the input's own steps 2..nOut+1 (with `nOut = nIn - 1`).
 */
export type PredictionTarget = 'next' | 'seed';

/** Per-feature scaling fitted on training data; `none` keeps raw values (the notebook's setting). */
export type NormalisationKind = 'zscore' | 'minmax' | 'none';

export interface ModelConfig {
  /** Which decoders the model has. Default `composite`. */
  variant: Variant;
  /** Window length (time steps in). Default 9 (the notebook's sequence). */
  nIn: number;
  /** Prediction length. Default `nIn` for target `next`, `nIn - 1` for target `seed`. */
  nOut: number;
  /** Values per reading. Default 1. */
  features: number;
  /** LSTM units of the encoder and of each decoder; also the embedding length. Default 100. */
  units: number;
  /** Activation of the LSTM cells. Default `relu`, as in the notebook. */
  activation: 'relu' | 'tanh';
  predictionTarget: PredictionTarget;
  normalisation: NormalisationKind;
  /**
   * Training epochs. Default 300, the seed notebook's, for the seed examples and their parity tests;
   * workers train every stream with their own default, SEQAE_EPOCHS (50).
   */
  epochs: number;
  /** Mini-batch size. Default 32 (Keras' default). */
  batchSize: number;
  /** Adam learning rate. Default 0.001 (Keras' default). */
  learningRate: number;
  /** Seed of the weight initialisers and of the shuffling; the same seed gives the same model. */
  seed: number;
}

const schema = z.object({
  variant: z.enum(['reconstruction', 'prediction', 'composite']).default('composite'),
  nIn: z.number().int().min(2).max(4096).default(9),
  nOut: z.number().int().min(1).max(4096).optional(),
  features: z.number().int().min(1).max(1024).default(1),
  units: z.number().int().min(1).max(4096).default(100),
  activation: z.enum(['relu', 'tanh']).default('relu'),
  predictionTarget: z.enum(['next', 'seed']).default('next'),
  normalisation: z.enum(['zscore', 'minmax', 'none']).default('zscore'),
  epochs: z.number().int().min(1).max(100_000).default(300),
  batchSize: z.number().int().min(1).max(65_536).default(32),
  learningRate: z.number().positive().max(10).default(0.001),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(1),
});

export type ModelConfigInput = z.input<typeof schema>;

/** Fills in the documented defaults and checks the combination; throws ValidationError naming the field. */
export function resolveModelConfig(input: ModelConfigInput = {}): ModelConfig {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(
      `model config ${issue.path.join('.')}: ${issue.message}`,
      'model_config',
    );
  }
  const c = parsed.data;
  const nOut = c.nOut ?? (c.predictionTarget === 'seed' ? c.nIn - 1 : c.nIn);
  const maxOut = c.predictionTarget === 'seed' ? c.nIn - 1 : c.nIn;
  if (nOut > maxOut) {
    throw new ValidationError(
      `model config nOut: at most ${maxOut} for predictionTarget ${c.predictionTarget} (got ${nOut})`,
      'model_config',
    );
  }
  return { ...c, nOut };
}

/** Whether the variant has each decoder. */
export function hasReconstruction(variant: Variant): boolean {
  return variant !== 'prediction';
}
export function hasPrediction(variant: Variant): boolean {
  return variant !== 'reconstruction';
}

/**
 * What a model's weights fit: models with the same shape key can start from each other's weights
 * (warm start). Training settings (epochs, learning rate, seed…) and the normalisation, refitted on
 * the new data, are not part of it.
 */
export function shapeKey(c: ModelConfig): string {
  return [c.variant, c.nIn, c.nOut, c.features, c.units, c.activation, c.predictionTarget].join(
    '/',
  );
}
