import { hasPrediction, hasReconstruction, type ModelConfig } from './config.js';

/**
 * Floating-point operations of one forward pass over one window (multiply-adds count 2), from the
 * LSTM and Dense matrix products, which dominate. Used to report GFLOP/s in benchmarks.
 */
export function modelFlops(config: ModelConfig): number {
  const { nIn, nOut, features: f, units: u } = config;
  const lstmStep = (input: number) => 2 * (input + u) * 4 * u + 10 * u;
  let flops = nIn * lstmStep(f);
  const decoder = (steps: number) => steps * (lstmStep(u) + 2 * u * f);
  if (hasReconstruction(config.variant)) flops += decoder(nIn);
  if (hasPrediction(config.variant)) flops += decoder(nOut);
  return flops;
}
