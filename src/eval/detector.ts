import type { AnomalyScoring, WindowErrors } from '../anomaly/index.js';

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
