/**
 * One series' window errors as the demo's worker makes them, for the offline alert benches: a model
 * trained once on the first 200 windows (window 16, 32 units, 20 epochs), then every window from the
 * first scored (the worker holds the windows that arrive while its model trains, then scores them all).
 * With a donor, the model starts from the donor's weights and fine-tunes for `warmEpochs`, as the
 * demo's worker warm-starts every stream after the first from the newest model of the same shape.
 */
import { forecastError, type WindowErrors } from '../src/anomaly/index.js';
import { datasetFromSeries, SequenceAutoencoder } from '../src/model/index.js';

export const WINDOW = 16;
const TRAIN_WINDOWS = 200;

/** A series' errors: those of the windows ending at readings `first …`. */
export interface SeriesErrors {
  first: number;
  errors: WindowErrors[];
}

/** The demo's warm start (src/demo/index.ts): a donor's weights, fine-tuned this many epochs. */
export interface WarmStart {
  donor: Uint8Array;
  epochs: number;
}

export async function seriesErrors(
  series: number[],
  modelSeed: number,
  warm?: WarmStart,
  /** Receives the trained model's artifact (a donor for the next). */
  keep?: (artifact: Uint8Array) => void,
): Promise<SeriesErrors> {
  const input = { nIn: WINDOW, units: 32, epochs: 20, learningRate: 0.005, seed: modelSeed };
  const model = warm
    ? await SequenceAutoencoder.warmStart(warm.donor, { ...input, epochs: warm.epochs })
    : SequenceAutoencoder.create(input);
  const trainRows = TRAIN_WINDOWS + WINDOW;
  await model.train(
    datasetFromSeries(
      model.config,
      series.slice(0, trainRows).map((v) => [v]),
    ),
  );
  const first = WINDOW - 1;
  const windows: number[][][] = [];
  for (let end = first; end < series.length; end++)
    windows.push(series.slice(end - WINDOW + 1, end + 1).map((v) => [v]));
  const r = await model.infer(windows, { batchSize: 256 });
  const { nOut } = model.config;
  const scale = model.normalisation.scale;
  const errors: WindowErrors[] = windows.map((_, k) => ({
    reconstructionError: r.reconstructionError![k]!,
    predictionError:
      k > 0
        ? forecastError([r.prediction![(k - 1) * nOut + nOut - 1]!], [series[first + k]!], scale)
        : null,
  }));
  if (keep) keep(await model.save());
  model.dispose();
  return { first, errors };
}
