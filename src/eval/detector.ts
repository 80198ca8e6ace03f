import type { AnomalyScoring, WindowErrors } from '../anomaly/index.js';
import type { NabFile } from './nab/corpus.js';

/**
 * What a detector may know of a stream before its first reading: the benchmark hands every detector
 * the file's length, minimum and maximum, and its probationary period.
 */
export interface StreamInfo {
  /** The stream's id (`category/file.csv` in the benchmark). */
  name: string;
  length: number;
  min: number;
  max: number;
  /** Rows at the start in which the detector may learn; nothing it outputs there is scored. */
  probation: number;
}

/** One stream's detector: sees the readings one by one, in order, and scores each before the next. */
export interface StreamDetector {
  next(value: number): Promise<number>;
  /** Frees what the stream holds (a model). */
  close?(): void;
}

/** A detector: opens one strictly causal StreamDetector per stream. */
export interface Detector {
  readonly name: string;
  open(info: StreamInfo): Promise<StreamDetector>;
}

/** A stream's errors, one WindowErrors per reading (empty while there is no model or window yet). */
export interface ErrorStream {
  next(value: number): Promise<WindowErrors>;
  close?(): void;
}

/**
 * A detector made of an error source and an anomaly scoring, as a worker scores: each reading's errors
 * and the reading itself go to the scoring (the stream's id keys its per-stream state).
 */
export function errorDetector(
  name: string,
  openErrors: (info: StreamInfo) => Promise<ErrorStream>,
  scoring: () => AnomalyScoring,
): Detector {
  return {
    name,
    async open(info) {
      const errors = await openErrors(info);
      const anomaly = scoring();
      return {
        async next(value) {
          const e = await errors.next(value);
          return anomaly.score(e, undefined, { streamId: info.name, value });
        },
        close: () => errors.close?.(),
      };
    },
  };
}

/** How far a file detector is with one file, for progress on a terminal. */
export interface FileStep {
  /** What it does now: `training`, `scoring`, `producing`, `waiting for scores`… */
  phase: string;
  done?: number;
  total?: number;
}

/**
 * A detector that takes a whole file at once and returns one score per row, such as the worker's
 * path: the producer's windows, a first training on the file's first windows, every window scored in
 * order. It is as causal as a per-reading one, as long as it trains only on probation and scores each
 * window with what came before it.
 */
export interface FileDetector {
  readonly name: string;
  scoreFile(
    file: NabFile,
    info: StreamInfo,
    onStep?: (step: FileStep) => void,
  ): Promise<Float64Array>;
  /** Stops what it started (processes, connections). */
  close?(): Promise<void>;
}
