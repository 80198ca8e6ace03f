import type { Output } from '../../transport/output.js';
import { windowMessage, type Window } from '../../contracts/window.js';
import { dlqKafkaMessage, type DeadLetter } from '../../contracts/dead-letter.js';
import type { DeadLetterSink, WindowSink } from './types.js';

const byStream = (a: Window, b: Window) =>
  a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0;

/** Windows onto `seqae.windows`. */
export class KafkaWindowSink implements WindowSink {
  readonly name = 'kafka';
  constructor(
    private readonly out: Output,
    private readonly topic: string,
  ) {}

  send(windows: Window[]): Promise<void> {
    if (windows.length === 0) return Promise.resolve();
    // Grouped by stream (a stable sort: each stream keeps its order): consecutive windows of one
    // stream overlap in all but one row, which gzip's 32 KiB window only sees when they are adjacent.
    const grouped = windows.length > 1 ? [...windows].sort(byStream) : windows;
    return this.out.send([{ topic: this.topic, messages: grouped.map(windowMessage) }]);
  }

  close(): Promise<void> {
    return this.out.close();
  }
}

/** Dead letters onto `seqae.dlq`: key = stream id when known, header `seqae-reason`. */
export class KafkaDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly out: Output,
    private readonly topic: string,
    private readonly maxOriginalBytes: number,
  ) {}

  send(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return Promise.resolve();
    const max = this.maxOriginalBytes;
    return this.out.send([
      { topic: this.topic, messages: letters.map((l) => dlqKafkaMessage(l, max)) },
    ]);
  }

  close(): Promise<void> {
    return this.out.close();
  }
}
