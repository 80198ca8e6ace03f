import { forecastError, type WindowErrors } from '../../anomaly/index.js';
import { datasetFromSeries, SequenceAutoencoder } from '../../model/index.js';
import type { ErrorStream, StreamInfo } from '../detector.js';

export interface AutoencoderErrorOptions {
  /** Window length. Default 9. */
  window: number;
  /** LSTM units. Default 16 (small, for speed: 37 files train in minutes on 2 cores). */
  units: number;
  epochs: number;
  seed: number;
  /**
   * The part of the probationary period the model trains on; the rest of it gives the scoring errors
   * the model did not train on to calibrate with (as HTM splits its learning and estimation periods).
   * Default 0.5.
   */
  trainFraction: number;
}

export const AUTOENCODER_DEFAULTS: AutoencoderErrorOptions = {
  window: 9,
  units: 16,
  epochs: 30,
  seed: 1,
  trainFraction: 0.5,
};

/**
 * The worker's own path as an error source: a composite LSTM autoencoder (SequenceAutoencoder) per
 * stream, trained once on the first readings of the probationary period, then each window's mean
 * squared reconstruction error and the one-step forecast error of the reading, in the model's
 * normalised units, as the worker computes them.
 */
export function autoencoderErrors(options: Partial<AutoencoderErrorOptions> = {}) {
  const o = { ...AUTOENCODER_DEFAULTS, ...options };
  return async (info: StreamInfo): Promise<ErrorStream> => {
    const trainAt = Math.max(o.window + 1, Math.floor(info.probation * o.trainFraction));
    const seen: number[] = [];
    let model: SequenceAutoencoder | undefined;
    let forecast: number[] | undefined;
    return {
      async next(value) {
        seen.push(value);
        const errors: WindowErrors = {};
        if (!model && seen.length > trainAt) {
          // Trains on the readings before this one: this reading is the first it scores.
          model = SequenceAutoencoder.create({
            nIn: o.window,
            units: o.units,
            epochs: o.epochs,
            seed: o.seed,
          });
          const series = seen.slice(0, trainAt).map((v) => [v]);
          await model.train(datasetFromSeries(model.config, series));
        }
        if (!model || seen.length < o.window) return errors;
        const { nIn, nOut } = model.config;
        if (seen.length > nIn) seen.splice(0, seen.length - nIn);
        const scale = model.normalisation.scale;
        if (forecast) errors.predictionError = forecastError(forecast, [value], scale);
        const r = await model.infer([seen.slice(-nIn).map((v) => [v])], { batchSize: 1 });
        errors.reconstructionError = r.reconstructionError?.[0];
        forecast = r.prediction ? [r.prediction[nOut - 1]!] : undefined;
        return errors;
      },
      close: () => model?.dispose(),
    };
  };
}
