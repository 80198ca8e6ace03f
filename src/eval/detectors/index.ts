import { LikelihoodScoring } from '../../anomaly/index.js';
import { initBackend } from '../../backend/index.js';
import { errorDetector, type Detector } from '../detector.js';
import { autoencoderErrors } from './autoencoder.js';
import { windowMeanErrors } from './window-mean.js';

/** The detectors `seqae eval` runs, by name; each scores with the worker's anomaly scoring. */
export const DETECTORS: Record<string, () => Promise<Detector>> = {
  /** The worker's path: a composite LSTM autoencoder per stream, its two errors, the likelihood. */
  seqae: async () => {
    await initBackend('auto', { scoring: false });
    return errorDetector('seqae', autoencoderErrors(), () => new LikelihoodScoring());
  },
  /** No model: a window's mean as its reconstruction and as the forecast, the same scoring. */
  'window-mean': async () =>
    errorDetector('window-mean', windowMeanErrors(), () => new LikelihoodScoring()),
};

export const DETECTOR_NAMES = Object.keys(DETECTORS);
