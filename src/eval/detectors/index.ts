import { LikelihoodScoring } from '../../anomaly/index.js';
import { loadConfig, type SeqaeConfig } from '../../config/index.js';
import { errorDetector, type Detector, type FileDetector } from '../detector.js';
import { windowMeanErrors } from './window-mean.js';
import { workerPathDetector, type WorkerPathOptions } from './worker-path.js';

/**
 * The detectors `seqae eval` runs in-process, by name, each given the worker's settings (`config`)
 * and the evaluation's own options.
 */
export const DETECTORS: Record<
  string,
  (config?: SeqaeConfig, options?: Partial<WorkerPathOptions>) => Promise<Detector | FileDetector>
> = {
  /**
   * The worker's path: the producer's windows, the train worker's first training, the stream
   * worker's WindowScorer with the configured engine and anomaly scoring.
   */
  seqae: async (config = loadConfig(), options = {}) => workerPathDetector(config, options),
  /** No model: a window's mean as its reconstruction and as the forecast, the likelihood scoring. */
  'window-mean': async () =>
    errorDetector('window-mean', windowMeanErrors(), () => new LikelihoodScoring()),
};

export const DETECTOR_NAMES = Object.keys(DETECTORS);
