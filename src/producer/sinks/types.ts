import type { Window } from '../../contracts/window.js';
import type { DeadLetter } from '../../contracts/dead-letter.js';

/** Where windows go. `send` resolves once the destination has durably accepted every window. */
export interface WindowSink {
  /** `kafka` or `bullmq`: the `sink` label of the producer metrics. */
  readonly name: string;
  send(windows: Window[]): Promise<void>;
  close(): Promise<void>;
}

/** Where bad input goes (`seqae.dlq`). */
export interface DeadLetterSink {
  send(letters: DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}
