import type { WindowErrors } from '../../anomaly/index.js';
import type { ErrorStream, StreamInfo } from '../detector.js';

/**
 * The model-free baseline's errors: a window's reconstruction is its mean (the error is the window's
 * variance), its forecast of the next reading the same mean. In units of the stream's range, which
 * the benchmark gives in advance; the scoring ranks errors, so the unit matters little.
 */
export function windowMeanErrors(window = 9) {
  return async (info: StreamInfo): Promise<ErrorStream> => {
    const scale = info.max > info.min ? info.max - info.min : 1;
    const recent: number[] = [];
    let forecast: number | undefined;
    return {
      async next(value) {
        const errors: WindowErrors = {};
        if (forecast !== undefined) errors.predictionError = ((value - forecast) / scale) ** 2;
        recent.push(value);
        if (recent.length > window) recent.shift();
        if (recent.length === window) {
          const mean = recent.reduce((a, b) => a + b, 0) / window;
          errors.reconstructionError =
            recent.reduce((a, v) => a + ((v - mean) / scale) ** 2, 0) / window;
          forecast = mean;
        }
        return errors;
      },
    };
  };
}
